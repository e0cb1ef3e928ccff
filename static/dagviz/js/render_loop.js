// Coalesced rendering: any number of schedule() calls become one render per frame, at most ~4 per second.

export function createRenderLoop(render, minIntervalMs = 250) {
  let queued = false;
  let last = 0;
  let timer = null;

  function frame() {
    queued = false;
    last = performance.now();
    render();
  }

  function schedule() {
    if (queued) return;
    queued = true;
    const wait = Math.max(0, minIntervalMs - (performance.now() - last));
    if (wait === 0) requestAnimationFrame(frame);
    else timer = setTimeout(() => { timer = null; requestAnimationFrame(frame); }, wait);
  }

  function flush() {
    if (timer) clearTimeout(timer);
    timer = null;
    frame();
  }

  return { schedule, flush };
}
