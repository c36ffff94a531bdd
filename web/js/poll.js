// Keeps the page following changes made elsewhere (a CLI backup, a scheduled run): refresh often while visible, rarely while hidden, backing off on errors.
export const VISIBLE_MS = 5_000;
export const HIDDEN_MS = 60_000;
const MAX_MS = 5 * 60_000;

/**
 * Calls `refresh()` (which resolves true on success) every VISIBLE_MS while the tab is visible and every HIDDEN_MS while
 * hidden; each failure doubles the wait, up to five minutes, so a server that is down is not hammered. Coming back to the tab
 * refreshes at once. The current wait is on `document.body.dataset.pollMs`, for the admin's dev tools and the browser test.
 */
export function startPolling(refresh) {
  let timer = null;
  let failures = 0;
  const base = () => (document.visibilityState === "hidden" ? HIDDEN_MS : VISIBLE_MS);
  const schedule = () => {
    clearTimeout(timer);
    const wait = Math.min(MAX_MS, base() * 2 ** failures);
    document.body.dataset.pollMs = String(wait);
    timer = setTimeout(tick, wait);
  };
  const tick = async () => {
    const ok = await refresh().catch(() => false);
    failures = ok ? 0 : Math.min(failures + 1, 6);
    schedule();
  };
  document.addEventListener("visibilitychange", () => (document.visibilityState === "visible" ? tick() : schedule()));
  schedule();
  return { stop: () => clearTimeout(timer), now: tick };
}
