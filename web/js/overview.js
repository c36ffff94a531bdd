// The overview: the health banner and the status cards; on a phone only the key cards show until the admin asks for all.
import { formatBytes, formatTime } from "./api.js";
import { emailCard } from "./parts.js";

const $ = (id) => document.getElementById(id);

/** Draws the banner and cards from GET /api/backup/status. */
export function renderOverview(s) {
  const banner = $("health");
  banner.hidden = false;
  banner.className = `banner ${s.health.healthy ? "healthy" : "unhealthy"}`;
  banner.textContent = s.health.healthy ? "Healthy: backups are up to date." : `Unhealthy: ${s.health.reasons.join("; ")}`;
  const next = Object.entries(s.scheduler.nextRuns).filter(([n]) => n !== "cleanup").map(([, v]) => v).filter(Boolean).sort()[0];
  // On a phone only the key facts show until "Show all facts": health, last backup and the main action fit the first screen.
  const key = new Set(["Last backup", "Next scheduled backup"]);
  const rows = [
    ["Backups", `${s.backups.total} (${Object.entries(s.backups.byType).filter(([, n]) => n).map(([t, n]) => `${t} ${n}`).join(", ") || "none"})`],
    ["Last backup", s.lastBackup ? `${formatTime(s.lastBackup.createdAt)} (${formatBytes(s.lastBackup.sizeBytes)})` : "none yet"],
    ["Next scheduled backup", next ? formatTime(next) : "none"],
    ["Scheduler", s.scheduler.initialized ? `running (${s.scheduler.timeZone})` : "not running in this process"],
    ["Storage used", formatBytes(s.storage.usedBytes) + (s.storage.freeBytes !== null ? `, ${formatBytes(s.storage.freeBytes)} free` : "")],
    ["Last verified", s.lastVerify ? `${s.lastVerify.backupId} at ${formatTime(s.lastVerify.at)} by ${s.lastVerify.actor}` : "never"],
    ["Email", emailCard(s.email)],
    ["Retention", `daily ${s.retention.daily}, weekly ${s.retention.weekly}, monthly ${s.retention.monthly}`],
  ];
  $("stats").replaceChildren(
    ...rows.map(([k, v]) => {
      const div = document.createElement("div");
      if (key.has(k)) div.dataset.key = "1";
      div.append(Object.assign(document.createElement("dt"), { textContent: k }), Object.assign(document.createElement("dd"), { textContent: v }));
      return div;
    }),
  );
}

// Health, last backup and the main action must fit a phone's first screen; the other six facts are one tap away.
$("stats-more").onclick = () => {
  const all = $("stats").classList.toggle("all");
  $("stats-more").setAttribute("aria-expanded", String(all));
  $("stats-more").textContent = all ? "Show key facts only" : "Show all facts";
};
