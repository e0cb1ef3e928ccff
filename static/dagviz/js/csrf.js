// The CSRF token Django set in the `csrftoken` cookie, for the X-CSRFToken header of POSTs.

let cached = "";

export function csrfToken() {
  if (cached) return cached;
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") cached = decodeURIComponent(rest.join("="));
  }
  return cached;
}
