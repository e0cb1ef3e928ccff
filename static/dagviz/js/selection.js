// The step keys the user selected (table checkboxes, grid Ctrl/Shift-clicks), for "Re-execute selected keys".

export function createSelection() {
  const keys = new Set();
  const listeners = new Set();
  const notify = () => { for (const listener of listeners) listener(keys); };
  return {
    has: (key) => keys.has(key),
    get size() { return keys.size; },
    keys: () => [...keys],
    toggle(key, on = !keys.has(key)) {
      if (on) keys.add(key); else keys.delete(key);
      notify();
    },
    setMany(list, on) {
      for (const key of list) { if (on) keys.add(key); else keys.delete(key); }
      notify();
    },
    clear() { keys.clear(); notify(); },
    onChange(listener) { listeners.add(listener); },
  };
}
