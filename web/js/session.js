// Sign-in shared by the tabs of one browser session: each tab keeps the token in its own sessionStorage, and a new tab asks
// the tabs already open for it over a BroadcastChannel, which only pages of this same origin can join.
//
// Why not a cookie or localStorage: an HttpOnly cookie would hide the token from scripts, but the hosted dashboard calls the API
// on another site (API Gateway), where a SameSite=Strict cookie is never sent and a SameSite=None one invites CSRF; and `serve`
// would need a second way to sign in. localStorage is written to disk and outlives the browser session, so an XSS days later,
// or anyone with the profile folder, could still read a live token. With this channel the token lives only in open tabs of
// this origin: closing the last tab ends the sign-in, and another origin cannot ask. An XSS running in an open tab could read
// it here as it could in sessionStorage; the CSP (script-src 'self') is what keeps XSS out in the first place.
import { token } from "./api.js";

const CHANNEL = "colab-backup-session";
/** How long a new tab waits for an open tab to answer before it shows the sign-in form. */
const ASK_MS = 400;

let channel = null;

/**
 * Joins the channel. `onSignIn()` runs when another tab signs in while this one has no token; `onSignOut()` when another tab
 * signs out. Tabs that hold a token answer a new tab's question with it.
 */
export function joinSession({ onSignIn, onSignOut }) {
  if (typeof BroadcastChannel === "undefined") return;
  channel = new BroadcastChannel(CHANNEL);
  channel.addEventListener("message", ({ data }) => {
    if (data?.type === "ask" && token.get()) channel.postMessage({ type: "token", token: token.get() });
    else if (data?.type === "signed-in" && typeof data.token === "string" && !token.get()) {
      token.set(data.token);
      onSignIn();
    } else if (data?.type === "sign-out" && token.get()) {
      token.clear();
      onSignOut();
    }
  });
}

/** Resolves true once an open tab has handed over its token, false if none answers in time (or this tab already has one). */
export function askOpenTabs() {
  if (!channel || token.get()) return Promise.resolve(Boolean(token.get()));
  return new Promise((resolve) => {
    const onAnswer = ({ data }) => {
      if (data?.type !== "token" || typeof data.token !== "string") return;
      finish(data.token);
    };
    const finish = (t) => {
      clearTimeout(timer);
      channel.removeEventListener("message", onAnswer);
      if (t && !token.get()) token.set(t);
      resolve(Boolean(token.get()));
    };
    const timer = setTimeout(() => finish(null), ASK_MS);
    channel.addEventListener("message", onAnswer);
    channel.postMessage({ type: "ask" });
  });
}

/** Tells the other tabs that this one signed in (a tab showing the sign-in form takes the token) or out (all sign out). */
export const announceSignIn = () => channel?.postMessage({ type: "signed-in", token: token.get() });
export const announceSignOut = () => channel?.postMessage({ type: "sign-out" });
