// Help texts for every command, the general usage, and "did you mean" suggestions by edit distance.
// Kept free of core imports so that `--help` and `--version` start as fast as Node itself.

export interface CommandHelp {
  summary: string;
  usage: string;
  /** [flag, what it does]; every command also takes --json and --help. */
  flags: [string, string][];
  example: string;
}

const COMPONENTS_TEXT = "database, uploads, config, logs";

export const HELP: Record<string, CommandHelp> = {
  backup: {
    summary: "take a backup now, verify it, and print where it went",
    usage: "colab-backup backup [--type TYPE] [--description TEXT] [--components LIST]",
    flags: [
      ["--type TYPE", "daily, weekly, monthly or manual (default manual); retention keeps each type apart"],
      ["--description TEXT", "a note stored in the manifest (at most 500 characters)"],
      ["--components LIST", `comma-separated from ${COMPONENTS_TEXT} (default: all)`],
      ["--scheduled-at TIME", "the schedule slot this run stands for (ISO 8601); a second run for the same slot is skipped"],
      ["--rehash", "format v2: read files that look unchanged too, rather than trusting size and times"],
    ],
    example: 'colab-backup backup --type manual --description "before the upgrade"',
  },
  list: {
    summary: "list the backups in the store, newest first, and any damaged or orphaned entries",
    usage: "colab-backup list [--type TYPE]",
    flags: [["--type TYPE", "only daily, weekly, monthly, manual or pre-restore backups"]],
    example: "colab-backup list --type daily",
  },
  verify: {
    summary: "read a backup back and check the archive's and every file's SHA-256 against its manifest",
    usage: "colab-backup verify <id|latest> [--quick]",
    flags: [["--quick", "format v2: check that every piece is present with its size, without reading it"]],
    example: "colab-backup verify latest",
  },
  export: {
    summary: "write any backup as the standard .tar.gz (a v2 backup is assembled from its packs)",
    usage: "colab-backup export <id|latest> [--output FILE|-]",
    flags: [["--output FILE|-", "where to write it (default ./<id>.tar.gz); - writes the archive to standard output"]],
    example: "colab-backup export latest --output - | tar -tzf -",
  },
  restore: {
    summary: "restore components of a backup over the live CRM (the live data is backed up first)",
    usage: "colab-backup restore <id|latest> --confirm CONFIRM_RESTORE [--components LIST|all]",
    flags: [
      ["--confirm CONFIRM_RESTORE", "required: a restore replaces live data"],
      ["--components LIST", `comma-separated from ${COMPONENTS_TEXT}, or all (default: every component the backup holds)`],
    ],
    example: "colab-backup restore latest --components uploads --confirm CONFIRM_RESTORE",
  },
  cleanup: {
    summary: "apply the retention policy: remove backups the policy no longer keeps",
    usage: "colab-backup cleanup [--dry-run]",
    flags: [["--dry-run", "print what would be removed, remove nothing"]],
    example: "colab-backup cleanup --dry-run",
  },
  status: {
    summary: "health verdict, backup counts, last backup, storage, store problems and the next scheduled runs",
    usage: "colab-backup status",
    flags: [],
    example: "colab-backup status --json",
  },
  delete: {
    summary: "delete one backup (or a damaged manifest, orphan archive or interrupted run) by id",
    usage: "colab-backup delete <id>",
    flags: [],
    example: "colab-backup delete manual-20261126T020000Z-1a2b3c",
  },
  serve: {
    summary: "run the dashboard and API, with the backup schedules, until stopped",
    usage: "colab-backup serve [--port PORT] [--host HOST]",
    flags: [
      ["--port PORT", "port to listen on (default PORT or 3000; 0 picks a free one)"],
      ["--host HOST", "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"],
    ],
    example: "CRM_ROOT=/srv/colab-crm colab-backup serve --port 8080",
  },
  help: {
    summary: "show the usage, or one command's flags and an example",
    usage: "colab-backup help [COMMAND]",
    flags: [],
    example: "colab-backup help restore",
  },
};

export const COMMAND_NAMES = Object.keys(HELP).filter((n) => n !== "help");

export function usageText(): string {
  const width = Math.max(...Object.keys(HELP).map((n) => n.length));
  const lines = Object.entries(HELP).map(([name, h]) => `  ${name.padEnd(width)}  ${h.summary}`);
  return `colab-backup: verified backups of the CO_LAB CRM (database, uploads, config, logs)

Usage: colab-backup <command> [flags]

Commands:
${lines.join("\n")}

Every command takes --json (one JSON document on stdout) and --help (-h). \`colab-backup --version\` prints the version.
Run \`colab-backup help <command>\` for a command's flags and an example.
Configuration comes from the environment and ./.env (see README).
Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.
`;
}

export function commandHelpText(name: string): string {
  const h = HELP[name];
  if (!h) throw new Error(`no help for ${name}`);
  const flags: [string, string][] = [...h.flags, ...(name === "serve" || name === "help" ? [] : [["--json", "print one JSON document on stdout instead of text"] as [string, string]]), ["-h, --help", "show this help"]];
  const width = Math.max(...flags.map(([f]) => f.length));
  return `colab-backup ${name}: ${h.summary}

Usage: ${h.usage}

Flags:
${flags.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join("\n")}

Example:
  ${h.example}
`;
}

/** Levenshtein distance, small inputs only. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest candidate within a third of the word's length (at least 2 edits), or a prefix match; undefined if none is close. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const prefix = candidates.filter((c) => word.length >= 2 && c.startsWith(word));
  if (prefix.length === 1) return prefix[0];
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

export const didYouMean = (word: string, candidates: readonly string[], show: (s: string) => string = (s) => s) => {
  const hit = closest(word, candidates);
  return hit ? ` (did you mean ${show(hit)}?)` : "";
};
