// The backup-size chart: an inline SVG of archive size over time, one dot per backup, coloured by type.
const COLORS = { daily: "#1f5fbf", weekly: "#7b3fb5", monthly: "#1e7a3d", manual: "#c26a00", "pre-restore": "#6b7280" };
const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawChart(figure, backups, formatBytes) {
  figure.replaceChildren();
  const points = backups.map((b) => ({ t: Date.parse(b.createdAt), size: b.sizeBytes, type: b.type, id: b.id })).sort((a, b) => a.t - b.t);
  const caption = document.createElement("figcaption");
  if (points.length === 0) {
    caption.textContent = "No backups yet.";
    figure.append(caption);
    return;
  }
  const W = 640, H = 220, L = 70, R = 10, T = 10, B = 30;
  const tMin = points[0].t, tMax = points.at(-1).t;
  const sMax = Math.max(...points.map((p) => p.size)) || 1;
  const x = (t) => L + (tMax === tMin ? (W - L - R) / 2 : ((t - tMin) / (tMax - tMin)) * (W - L - R));
  const y = (s) => H - B - (s / sMax) * (H - T - B);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-desc" });
  svg.append(el("desc", { id: "chart-desc" }, `Archive size of ${points.length} backups, largest ${formatBytes(sMax)}`));
  svg.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }));
  svg.append(el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }));
  svg.append(el("text", { x: L - 6, y: T + 10, "text-anchor": "end", "font-size": 11 }, formatBytes(sMax)));
  svg.append(el("text", { x: L - 6, y: H - B, "text-anchor": "end", "font-size": 11 }, "0"));
  svg.append(el("text", { x: L, y: H - 8, "font-size": 11 }, new Date(tMin).toLocaleDateString()));
  svg.append(el("text", { x: W - R, y: H - 8, "text-anchor": "end", "font-size": 11 }, new Date(tMax).toLocaleDateString()));
  svg.append(el("polyline", { points: points.map((p) => `${x(p.t)},${y(p.size)}`).join(" "), fill: "none", stroke: "#bbb" }));
  for (const p of points) {
    const dot = el("circle", { cx: x(p.t), cy: y(p.size), r: 4, fill: COLORS[p.type] ?? "#333", "data-id": p.id });
    dot.append(el("title", {}, `${p.id}: ${formatBytes(p.size)}`));
    svg.append(dot);
  }
  caption.textContent = `${points.length} backups; colours: ${Object.keys(COLORS).join(", ")}.`;
  figure.append(svg, caption);
}
