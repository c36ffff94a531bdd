// Help texts for every command, the general usage, and "did you mean" suggestions by edit distance.
// Kept free of core imports (but the import-free core/suggest.ts) so that `--help` and `--version` start as fast as Node itself.

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
  ls: {
    summary: "list a backup's files (component, size, time, path), or those under one path",
    usage: "colab-backup ls <id|latest> [PATH]",
    flags: [],
    example: "colab-backup ls latest uploads/invoices",
  },
  diff: {
    summary: "what changed between two backups: files added, removed and changed, and the database",
    usage: "colab-backup diff <older-id|latest> <newer-id|latest>",
    flags: [],
    example: "colab-backup diff daily-20261125T020000Z-1a2b3c latest",
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
    summary: "restore components or chosen files of a backup over the live CRM (the live data is backed up first), or into another folder",
    usage: "colab-backup restore <id|latest> (--confirm CONFIRM_RESTORE | --target DIR) [--components LIST|all] [--include PATH]...",
    flags: [
      ["--confirm CONFIRM_RESTORE", "required to restore over the live CRM: it replaces live data"],
      ["--components LIST", `comma-separated from ${COMPONENTS_TEXT}, or all (default: every component the backup holds)`],
      ["--include PATH", "only this file or folder, as `colab-backup ls` prints it (repeat for more); other live files stay as they are"],
      ["--target DIR", "restore into DIR (empty or absent) in the CRM's layout instead: nothing live changes, so no --confirm, no pre-restore backup"],
    ],
    example: "colab-backup restore latest --include uploads/invoices --confirm CONFIRM_RESTORE",
  },
  cleanup: {
    summary: "apply the retention policy: remove backups the policy no longer keeps",
    usage: "colab-backup cleanup [--dry-run] [--max-repack SIZE]",
    flags: [
      ["--dry-run", "print what would be removed and repacked, change nothing"],
      ["--max-repack SIZE", "read at most SIZE of partly used packs to repack (e.g. 200M, 2G; 0 turns repacking off; default 256M)"],
    ],
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
  token: {
    summary: "print a short-lived admin token (or dashboard sign-in link) signed with JWT_SECRET",
    usage: "colab-backup token [--ttl DURATION] [--link [--url URL]] [--email EMAIL]",
    flags: [
      ["--ttl DURATION", "how long it is valid: a number and s, m or h, at most 24h (default 1h)"],
      ["--link", "print a dashboard sign-in link instead of the bare token"],
      ["--url URL", "the dashboard address the link points to (default DASHBOARD_ORIGIN, else http://127.0.0.1:PORT)"],
      ["--email EMAIL", "who the token names; the audit trail records it (default local-admin@localhost)"],
    ],
    example: "colab-backup token --ttl 10m --link",
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

export { closest, didYouMean, editDistance } from "../core/suggest.ts";
