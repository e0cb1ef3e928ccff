// The key table's filters: key text, status and error text, from its inputs.
//
// The text box also reads `status:failed` (or failure, running, ...) and `error:words`, so a
// single box can filter on all three, and a box holding only a status word ("failed",
// "SUCCESS") filters by status; the status menu and the error box win when set.

const STATUS_WORDS = {
  pending: "PENDING", running: "RUNNING", success: "SUCCESS", succeeded: "SUCCESS", ok: "SUCCESS",
  failure: "FAILURE", failed: "FAILURE", error: "FAILURE", skipped: "SKIPPED", reused: "REUSED",
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
  return Boolean(filters.key || filters.status || filters.error);
}
