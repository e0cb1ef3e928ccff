// The key table's filters: key text, status and error text, from its inputs.
//
// The text box also reads `status:failed` (or failure, running, ...) and `error:words`, so a
// single box can filter on all three, and a box holding only a status word ("failed",
// "SUCCESS") filters by status; the status menu and the error box win when set.

const STATUS_WORDS = {
  pending: "PENDING", running: "RUNNING", success: "SUCCESS", succeeded: "SUCCESS", ok: "SUCCESS",
  failure: "FAILURE", failed: "FAILURE", error: "FAILURE", skipped: "SKIPPED", reused: "REUSED",
  canceled: "CANCELED", cancelled: "CANCELED",
};

export function parseFilterText(text) {
  const result = { key: "", status: "", error: "" };
  const word = text.trim().toLowerCase();
  if (STATUS_WORDS[word] && !word.includes("[")) {  // the box holds just a status: "failed", "FAILURE"
    result.status = STATUS_WORDS[word];
    return result;
  }
  const rest = [];
  const tokens = text.match(/(?:[^\s"]+|"[^"]*")+/g) || [];
  for (const token of tokens) {
    const match = /^(status|is|error):(.*)$/i.exec(token);
    if (!match) { rest.push(token); continue; }
    const value = match[2].replace(/^"|"$/g, "");
    if (match[1].toLowerCase() === "error") result.error = value;
    else result.status = STATUS_WORDS[value.toLowerCase()] || value.toUpperCase();
  }
  result.key = rest.join(" ");
  return result;
}

export function readFilters({ text, status, error }) {
  const parsed = parseFilterText(text.value.trim());
  return {
    key: parsed.key,
    status: status.value || parsed.status,
    error: error.value.trim() || parsed.error,
  };
}

export function isFiltered(filters) {
  return Boolean(filters.key || filters.status || filters.error || filters.signature);
}

// The filters in words, for "No keys match …": the key text, the status and the error text.
export function describeFilters(filters) {
  const parts = [];
  if (filters.key) parts.push(`“${filters.key}”`);
  if (filters.status) parts.push(`status ${filters.status}`);
  if (filters.error) parts.push(`error “${filters.error}”`);
  if (filters.signature) parts.push("the selected failure group");
  return parts.length ? parts.join(", ") : "the filters";
}
