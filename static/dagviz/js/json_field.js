// GraphQL JSONString fields arrive as JSON text; this turns them into values (and leaves values alone).

export function jsonField(value) {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
