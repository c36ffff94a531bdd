// The backup-size chart: an inline SVG of backup size over time, one dot per backup coloured by type, with a keyed legend.
export const COLORS = { daily: "#1f5fbf", weekly: "#7b3fb5", monthly: "#1e7a3d", manual: "#c26a00", "pre-restore": "#6b7280" };
const NS = "http://www.w3.org/2000/svg";
const FONT = 12;
let last = null;

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const DAY = 86_400_000;
const fmt = (opts) => (t) => new Date(t).toLocaleString(undefined, opts);
const TIME = fmt({ hour: "2-digit", minute: "2-digit" });
const TIME_S = fmt({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
const DATE = fmt({ month: "short", day: "numeric" });
const DATE_TIME = fmt({ month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const FULL = fmt({ year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** Axis labels that never repeat: times within one day, dates over weeks, date and time between; equal neighbours are dropped. */
export function axisTicks(tMin, tMax, count) {
  if (tMax === tMin) return [{ t: tMin, label: DATE_TIME(tMin) }];
  const sameDay = new Date(tMin).toDateString() === new Date(tMax).toDateString();
  const steps = Array.from({ length: count }, (_, i) => tMin + ((tMax - tMin) * i) / (count - 1));
  const formats = sameDay ? [TIME, TIME_S] : tMax - tMin > 7 * DAY ? [DATE, DATE_TIME, FULL] : [DATE_TIME, FULL];
  const format = formats.find((f) => new Set(steps.map(f)).size === steps.length) ?? formats.at(-1);
  const ticks = steps.map((t) => ({ t, label: format(t) })).filter((tick, i, all) => i === 0 || tick.label !== all[i - 1].label);
  // Times alone would not say which day: the first label carries the date.
  if (sameDay) ticks[0].label = `${DATE(ticks[0].t)}, ${ticks[0].label}`;
  return ticks;
}

/** Each label's anchor and its left and right edge at FONT px (a glyph is about 0.62 em wide). */
function place(ticks, x) {
  return ticks.map((k, i) => {
    const w = k.label.length * FONT * 0.62;
    const anchor = ticks.length === 1 ? "middle" : i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle";
    const left = anchor === "start" ? x(k.t) : anchor === "end" ? x(k.t) - w : x(k.t) - w / 2;
    return { ...k, anchor, left, right: left + w };
  });
}
const apart = (placed) => placed.every((k, i) => i === 0 || k.left >= placed[i - 1].right + 8);

/** Draws at the figure's own width, so text is FONT px on any screen rather than a scaled-down desktop drawing. */
export function drawChart(figure, backups, formatBytes) {
  last = { figure, backups, formatBytes };
  figure.replaceChildren();
  const points = backups.map((b) => ({ t: Date.parse(b.createdAt), size: b.sizeBytes, type: b.type, id: b.id })).sort((a, b) => a.t - b.t);
  const caption = document.createElement("figcaption");
  if (points.length === 0) {
    caption.textContent = "No backups yet.";
    figure.append(caption);
    return;
  }
  const W = Math.max(280, Math.round(figure.clientWidth) || 640);
  const R = 14, T = 12;
  const sMax = Math.max(...points.map((p) => p.size)) || 1;
  const L = Math.max(...[formatBytes(sMax), formatBytes(sMax / 2)].map((s) => s.length)) * FONT * 0.6 + 12;
  const tMin = points[0].t, tMax = points.at(-1).t;
  const x = (t) => L + (tMax === tMin ? (W - L - R) / 2 : ((t - tMin) / (tMax - tMin)) * (W - L - R));
  // As many axis labels as fit side by side; when even two would touch (a narrow phone), the second drops to a row below.
  const fitting = [5, 4, 3, 2].map((n) => place(axisTicks(tMin, tMax, n), x)).find(apart);
  const ticks = fitting ?? place(axisTicks(tMin, tMax, 2), x);
  const rows = fitting ? 1 : 2;
  const B = 12 + rows * (FONT + 4);
  const H = (W < 500 ? 190 : 220) + B;
  const y = (s) => H - B - (s / sMax) * (H - T - B);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-labelledby": "chart-desc", "font-size": FONT });
  svg.append(el("desc", { id: "chart-desc" }, `Size of ${points.length} backups from ${FULL(tMin)} to ${FULL(tMax)}, largest ${formatBytes(sMax)}`));
  svg.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }), el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }));
  for (const s of [sMax, sMax / 2, 0]) {
    svg.append(el("text", { x: L - 6, y: y(s) + FONT / 3, "text-anchor": "end", class: "axis" }, s ? formatBytes(s) : "0"));
  }
  ticks.forEach((tick, i) => {
    const row = rows === 2 ? i : 0;
    svg.append(el("text", { x: x(tick.t), y: H - B + FONT + 6 + row * (FONT + 4), "text-anchor": tick.anchor, class: "axis x-tick" }, tick.label));
  });
  svg.append(el("polyline", { points: points.map((p) => `${x(p.t)},${y(p.size)}`).join(" "), fill: "none", stroke: "#bbb" }));
  for (const p of points) {
    const dot = el("circle", { cx: x(p.t), cy: y(p.size), r: 5, fill: COLORS[p.type] ?? "#333", "data-id": p.id, "data-type": p.type });
    dot.append(el("title", {}, `${p.id}: ${formatBytes(p.size)}, ${FULL(p.t)}`));
    svg.append(dot);
  }
  figure.append(svg, legend(points));
  caption.textContent = `${points.length} backup${points.length === 1 ? "" : "s"}, ${DATE_TIME(tMin)} to ${DATE_TIME(tMax)}.`;
  figure.append(caption);
}

/** One key per type shown: a dot of the type's colour and the type's name with its count. */
function legend(points) {
  const ul = document.createElement("ul");
  ul.className = "legend";
  ul.setAttribute("aria-label", "Colours");
  for (const [type, color] of Object.entries(COLORS)) {
    const n = points.filter((p) => p.type === type).length;
    if (!n) continue;
    const li = document.createElement("li");
    li.dataset.type = type;
    const key = el("svg", { width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" });
    // A round rect, not a circle: "#chart svg circle" stays the dots, one per backup.
    key.append(el("rect", { x: 1, y: 1, width: 10, height: 10, rx: 5, fill: color }));
    li.append(key, ` ${type} (${n})`);
    ul.append(li);
  }
  return ul;
}

let resizeTimer;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => last && drawChart(last.figure, last.backups, last.formatBytes), 150);
});
