// Small helpers for tools/chaos.
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `cond` (sync or async) every 100 ms until it is true; throws after timeoutMs. `each` runs
// before every poll and may throw to give up early.
export async function until(cond, timeoutMs, what, each = async () => {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await each();
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

export function log(...args) {
  console.error(`[chaos ${new Date().toISOString().slice(11, 19)}]`, ...args);
}
