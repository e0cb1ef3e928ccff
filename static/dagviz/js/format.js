// Human-readable durations, times and ids.

export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

export function parseTime(iso) {
  return iso ? Date.parse(iso) : NaN;
}

export function formatClock(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  const ms = String(date.getUTCMilliseconds()).padStart(3, "0");
  return `${date.toISOString().slice(11, 19)}.${ms} UTC`;
}

export function shortId(id) {
  return id ? `${id.slice(0, 8)}…` : "";
}

export function firstLine(text) {
  if (!text) return "";
  const index = text.indexOf("\n");
  return index < 0 ? text : text.slice(0, index);
}

// 12,345 (without Intl: its first use costs a locale load on the main thread).
export function formatCount(value) {
  return String(Math.round(value || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
