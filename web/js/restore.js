// The restore dialog: pick components from the backup's manifest (or restore files chosen in the file browser), see what
// will be replaced, type the token, start the job.
import { api, formatBytes, formatTime } from "./api.js";

const $ = (id) => document.getElementById(id);
const TOKEN = "CONFIRM_RESTORE";

function describe(name, c) {
  if (name === "database" && c.database) {
    const tables = Object.entries(c.database.tables).map(([t, n]) => `${t} (${n} rows)`).join(", ");
    return `the live SQLite database, with the backup's ${Object.keys(c.database.tables).length} tables: ${tables}`;
  }
  if (name === "uploads") return `the whole uploads folder, with the backup's ${c.fileCount} files (${formatBytes(c.totalSize)}); files added since are set aside`;
  if (name === "config") return `${c.files.map((f) => f.path.replace(/^config\//, "")).join(", ")}`;
  return `${c.fileCount} log files of the same names`;
}

/** The impact of restoring only `include`: each chosen path, and what stays. */
function describeChosen(include) {
  const list = document.createElement("ul");
  list.id = "restore-include";
  list.append(...include.map((p) => Object.assign(document.createElement("li"), { textContent: p })));
  const head = Object.assign(document.createElement("p"), { textContent: `Replaces only these ${include.length} chosen files or folders with the backup's copies:` });
  const rest = Object.assign(document.createElement("p"), { textContent: "Every other live file stays as it is." });
  return [head, list, rest];
}

/**
 * Opens the dialog for one backup; `onStarted(jobId)` is called once the restore job is accepted. With `include`
 * (paths from the file browser) the components are those of the chosen paths and only those paths are restored.
 */
export async function openRestore(id, { onStarted, onError, include }) {
  const dialog = $("restore-dialog");
  const manifest = await api(`/api/backup/${encodeURIComponent(id)}`);
  $("restore-id").textContent = id;
  $("restore-when").textContent = formatTime(manifest.createdAt);
  const box = $("restore-components");
  box.replaceChildren();
  for (const [name, c] of Object.entries(manifest.components)) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = "component";
    input.value = name;
    input.disabled = c.status !== "included" || Boolean(include);
    // A path's component is its first segment (uploads/…, config/…, logs/…, database/…), as the browser lists it.
    input.checked = Boolean(include?.some((p) => p.split("/")[0] === name));
    label.append(input, ` ${name}${c.status === "included" ? ` (${c.fileCount} files, ${formatBytes(c.totalSize)})` : ` (not in this backup${c.note ? `: ${c.note}` : ""})`}`);
    box.append(label);
  }
  const confirm = $("restore-confirm");
  const submit = $("restore-submit");
  confirm.value = "";
  const chosen = () => [...box.querySelectorAll("input:checked")].map((i) => i.value);
  const refresh = () => {
    const names = chosen();
    $("restore-impact").replaceChildren(
      ...(include
        ? describeChosen(include)
        : names.length
        ? names.map((n) => {
            const p = document.createElement("p");
            p.textContent = `Replaces ${n}: ${describe(n, manifest.components[n])}.`;
            return p;
          })
        : [Object.assign(document.createElement("p"), { textContent: "Choose at least one component." })]),
    );
    submit.disabled = names.length === 0 || confirm.value !== TOKEN;
  };
  box.onchange = refresh;
  confirm.oninput = refresh;
  refresh();
  $("restore-cancel").onclick = () => dialog.close();
  $("restore-form").onsubmit = async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const { jobId } = await api("/api/backup/restore", { method: "POST", body: { backupId: id, components: chosen(), confirmToken: confirm.value, ...(include ? { include } : {}) } });
      dialog.close();
      onStarted(jobId);
    } catch (err) {
      dialog.close();
      onError(err);
    }
  };
  dialog.showModal();
  (box.querySelector("input:not(:disabled)") ?? confirm).focus();
}
