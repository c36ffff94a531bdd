// Action results shown beside the control that caused them: each slot keeps one entry per action, and errors stay until dismissed.
const slots = new Map();

function entriesOf(el) {
  if (!slots.has(el.id)) slots.set(el.id, []);
  return slots.get(el.id);
}

function render(el) {
  const entries = entriesOf(el);
  el.hidden = entries.length === 0;
  el.replaceChildren(
    ...entries.map((e) => {
      const p = document.createElement("p");
      p.className = `result ${e.kind}`;
      p.dataset.action = e.action;
      p.setAttribute("role", e.kind === "error" ? "alert" : "status");
      const dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "link dismiss";
      dismiss.textContent = "Dismiss";
      dismiss.setAttribute("aria-label", `Dismiss: ${e.message}`);
      dismiss.onclick = () => {
        slots.set(el.id, entriesOf(el).filter((x) => x !== e));
        render(el);
      };
      p.append(Object.assign(document.createElement("span"), { textContent: e.message }), " ", dismiss);
      return p;
    }),
  );
}

/**
 * Shows `message` in the slot element `el` for `action`. A new result replaces the same action's earlier success,
 * but never an error (of this action or another): errors go only when the admin dismisses them.
 */
export function showResult(el, action, message, kind = "info") {
  if (!el) return;
  const kept = entriesOf(el).filter((e) => e.kind === "error" || e.action !== action);
  kept.push({ action, message, kind });
  slots.set(el.id, kept.slice(-6));
  render(el);
}

/** Re-renders a slot after its element was rebuilt (rows of the backup list are rebuilt on each refresh). */
export function renderResults(el) {
  if (el && slots.has(el.id)) render(el);
}

export const hasResults = (id) => (slots.get(id)?.length ?? 0) > 0;
