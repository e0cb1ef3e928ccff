// The YAML editor of the launchpad: a textarea with a line-number gutter that marks lines with errors.

export function createConfigEditor(textarea, gutter) {
  let marked = new Set();

  function paintGutter() {
    const count = textarea.value.split("\n").length;
    const lines = [];
    for (let line = 1; line <= count; line += 1) lines.push(marked.has(line) ? `⚠ ${line}` : String(line));
    gutter.textContent = lines.join("\n");
    gutter.scrollTop = textarea.scrollTop;
  }

  textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
  textarea.addEventListener("input", paintGutter);
  textarea.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;  // two spaces, YAML has no tabs
    event.preventDefault();
    const { selectionStart: start, selectionEnd: end } = textarea;
    textarea.setRangeText("  ", start, end, "end");
    textarea.dispatchEvent(new Event("input"));
  });

  return {
    get value() { return textarea.value; },
    set value(text) { textarea.value = text; paintGutter(); },
    markLines(lines) { marked = new Set(lines.filter(Boolean)); paintGutter(); },
    goToLine(line) {
      const lines = textarea.value.split("\n");
      const offset = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
      textarea.focus();
      textarea.setSelectionRange(offset, offset + (lines[line - 1] || "").length);
      const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
      textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
    },
  };
}
