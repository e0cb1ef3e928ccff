// Building DOM elements without a framework: h("tag.class", {attrs}, ...children).

export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const element = document.createElement(tag || "div");
  if (classes.length) element.className = classes.join(" ");
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else if (name === "className") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

// Appends children, skipping null/false/undefined (which the DOM's append would print).
export function add(parent, ...children) {
  append(parent, children);
  return parent;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

export function pageData() {
  const script = document.getElementById("page-data");
  return script ? JSON.parse(script.textContent) : {};
}

/** Size ``canvas`` to ``width`` x ``height`` CSS pixels at ``dpr`` device pixels each, cleared, drawing in
 * CSS pixels. Resizing a canvas also resets its context's state (fill, stroke, transform). */
export function sizeCanvas(canvas, context, width, height, dpr) {
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  context.setTransform(dpr, 0, 0, dpr, 0, 0);
  context.clearRect(0, 0, width, height);
}
