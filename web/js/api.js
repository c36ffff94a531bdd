// The API client: base URL from config.js or ?api=, the admin token from the sign-in link or the sign-in form.
const TOKEN_KEY = "colab-backup-token";

export function apiBase() {
  const fromQuery = new URLSearchParams(location.search).get("api");
  const base = fromQuery ?? window.COLAB_BACKUP_CONFIG?.apiBase ?? "";
  return base.replace(/\/$/, "");
}

/** A token in the URL fragment (the sign-in link) is moved to session storage and removed from the address bar; true if there was one. */
export function takeTokenFromUrl() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return false;
  sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t.trim()),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const fields = body?.error?.fields?.map((f) => `${f.path}: ${f.message}`).join("; ");
    super(body?.error?.message ? `${body.error.message}${fields ? ` (${fields})` : ""}` : `request failed with HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${token.get() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${apiBase()}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (raw && res.ok) return res;
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

export const formatTime = (iso) => (iso ? new Date(iso).toLocaleString() : "never");
