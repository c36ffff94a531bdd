// Where the CRM's signing keys may be fetched from: https anywhere, plain http only on this machine (loopback).
// Whoever can alter the key set can mint admin tokens, so a key set fetched over plain http across a network is an open door.

/**
 * localhost, 127.0.0.0/8 and ::1, as WHATWG URL parsing normalizes them (it turns "127.1" and "0x7f000001" into "127.0.0.1").
 * Not "*.localhost": Node resolves names through the system resolver, which may send them to DNS.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === "localhost" || h === "[::1]") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Why `raw` cannot be the JWKS URL, as a sentence that says how to fix it; undefined when it can. */
export function jwksUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw}" is not a URL; expected the CRM's key set, e.g. https://crm.example.com/.well-known/jwks.json`;
  }
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return undefined;
  if (url.protocol === "http:") {
    return `"${raw}" uses plain http to ${url.hostname}; use https (http is allowed only on loopback: localhost, 127.0.0.0/8, ::1), since whoever can change the key set in transit can sign admin tokens`;
  }
  return `"${raw}" is not an http(s) URL; expected the CRM's key set, e.g. https://crm.example.com/.well-known/jwks.json`;
}
