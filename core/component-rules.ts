// Which archive entries belong to which component: the one rule that restore, verify and the extractor share.
import { checkEntryName, DEFAULT_LIMITS } from "./archive/extract-limits.ts";
import { CONFIG_FILES } from "./config.ts";
import { UnsafeArchiveError } from "./errors.ts";
import { COMPONENTS, DATABASE_ENTRY, MANIFEST_ENTRY, RESTORE_GUIDE_ENTRY, type ComponentName, type Manifest } from "./manifest.ts";

/** What each component may hold, said the way an error message needs it. */
export const COMPONENT_RULES: Record<ComponentName, string> = {
  database: `database holds exactly ${DATABASE_ENTRY}`,
  uploads: "uploads holds only files under uploads/",
  config: `config holds exactly ${CONFIG_FILES.map((f) => `config/${f}`).join(", ")} (never .env or .env.*)`,
  logs: "logs holds only log files named logs/<name>.log.gz",
};

const CONFIG_ENTRIES = new Set(CONFIG_FILES.map((f) => `config/${f}`));
// Folders a component's files imply; a real backup writes none, but a folder entry is harmless if it is one of these.
const CONFIG_FOLDERS = new Set(["config", ...CONFIG_FILES.flatMap((f) => ancestors(`config/${f}`))]);

function ancestors(p: string): string[] {
  const parts = p.split("/");
  return parts.slice(1, -1).map((_, i) => parts.slice(0, i + 2).join("/"));
}

/** The component a normalised entry belongs to, or undefined when it belongs to none (manifest.json and RESTORE.txt included). */
export function ownerOf(entry: string, type: "file" | "directory" = "file"): ComponentName | undefined {
  if (type === "directory") {
    if (entry === "database") return "database";
    if (entry === "uploads" || entry.startsWith("uploads/")) return "uploads";
    if (entry === "logs" || entry.startsWith("logs/")) return "logs";
    if (CONFIG_FOLDERS.has(entry)) return "config";
    return undefined;
  }
  if (entry === DATABASE_ENTRY) return "database";
  if (entry.startsWith("uploads/")) return "uploads";
  if (CONFIG_ENTRIES.has(entry)) return "config";
  if (entry.startsWith("logs/") && entry.endsWith(".log.gz")) return "logs";
  return undefined;
}

const isComponent = (name: string | undefined): name is ComponentName => (COMPONENTS as readonly string[]).includes(name ?? "");

/**
 * Why an entry may not be in a backup, or undefined when it may. `listedUnder` is the manifest component that lists
 * the entry, if any: an entry must be listed under the component it belongs to, or a record could smuggle another
 * component's files (or paths outside every component) into the folder it is restored to.
 */
export function entryProblem(entry: string, type: "file" | "directory", listedUnder?: string): string | undefined {
  const normal = checkEntryName(entry, DEFAULT_LIMITS);
  if (normal !== entry) return typeof normal === "string" ? `is not a normalised name (${normal})` : normal.problem;
  if (type === "file" && (entry === MANIFEST_ENTRY || entry === RESTORE_GUIDE_ENTRY) && listedUnder === undefined) return undefined;
  const owner = ownerOf(entry, type);
  const claimed = listedUnder ?? entry.split("/")[0];
  if (owner === undefined) {
    if (isComponent(claimed)) return `${listedUnder ? "listed under" : "in"} ${claimed} but not allowed there: ${COMPONENT_RULES[claimed]}`;
    return `belongs to no component (${COMPONENTS.join(", ")})${listedUnder ? `, yet the manifest lists it under "${listedUnder}"` : ""}`;
  }
  if (listedUnder !== undefined && listedUnder !== owner) {
    return `listed under ${listedUnder} but belongs to ${owner}: ${isComponent(listedUnder) ? COMPONENT_RULES[listedUnder] : `"${listedUnder}" is not a component`}`;
  }
  return undefined;
}

/** The first manifest listing that breaks the rules, as the entry and the reason. */
export function manifestProblem(manifest: Pick<Manifest, "components">): { entry: string; component: string; problem: string } | undefined {
  for (const [component, record] of Object.entries(manifest.components)) {
    for (const file of record.files) {
      const problem = entryProblem(file.path, "file", component);
      if (problem) return { entry: file.path, component, problem };
    }
  }
  return undefined;
}

/** Refuses a manifest that lists anything outside its components' rules; the message names the entry and the rule. */
export function checkManifestRules(manifest: Pick<Manifest, "id" | "components">): void {
  const found = manifestProblem(manifest);
  if (found) throw new UnsafeArchiveError(`check backup ${manifest.id}: ${found.entry}: ${found.problem}; the backup is not one this tool made, restore another`);
}
