// The trainer's console: draws the map, clock, timeline and inboxes from the
// run's event stream (/api/events, Server-Sent Events), and sends the
// trainer's controls (/api/control). A replay gets the whole log at once and
// plays it here, with a scrubber. Nothing is fetched from elsewhere.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, parent) => {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  if (parent) parent.appendChild(e);
  return e;
};

// Where each host sits on the schematic map (viewBox 1000×560).
const PLACES = {
  "US-DHS": [560, 78], "MX-SEGOB": [330, 225], "GT-MINGOB": [585, 400],
  "SV-MJSP": [640, 500], "HN-SEDS": [800, 405], "GCIF": [860, 225],
};
// Which side of its circle a node's name and counters go (clear of the others).
const SIDE = { "GT-MINGOB": "left", "SV-MJSP": "right" };
const KIND_LABEL = { caravan_alert: "caravan alert", document_flag: "document flag", cargo_notice: "cargo notice" };

const S = {
  meta: null, events: [], applied: 0, t: 0, live: true, playing: false, speed: 60,
  clock: null, clockAt: 0, lastFrame: 0, nodes: {}, inboxes: {}, msgs: {}, cut: new Set(), bands: [],
};

function resetState() {
  S.applied = 0; S.msgs = {}; S.cut = new Set(); S.bands = []; S.nodes = {}; S.inboxes = {};
  for (const m of S.meta.participants) {
    S.nodes[m] = { sent: 0, received: 0, pending: 0 };
    S.inboxes[m] = [];
  }
}

// ---- time ---------------------------------------------------------------
function fmtDate(ms) {
  const d = new Date(ms + S.meta.offset_min * 60000);
  const p = (n) => String(n).padStart(2, "0");
  return {
    date: `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`,
    time: `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`,
  };
}
function fmtOffset(t) {
  const m = Math.floor(t / 60000), h = Math.floor(m / 60), d = Math.floor(h / 24);
  return d > 0 ? `${d}d${String(h % 24).padStart(2, "0")}h` : `${h}:${String(m % 60).padStart(2, "0")}`;
}
function nowT() {
  if (S.live) {
    if (!S.clock) return 0;
    if (S.clock.paused) return S.clock.t;
    return S.clock.t + (performance.now() - S.clockAt) * S.clock.speed;
  }
  return S.t;
}

// ---- map ----------------------------------------------------------------
function drawMap() {
  const svg = $("map");
  svg.innerHTML = "";
  const land = [
    ["UNITED STATES", "40,20 960,20 960,130 640,130 560,160 470,140 300,125 150,135 40,105", [830, 70]],
    ["MEXICO", "150,135 300,125 470,140 560,160 590,230 540,300 600,340 560,360 470,350 380,320 300,270 230,210 180,170", [440, 320]],
    ["GUATEMALA", "560,360 600,340 660,350 680,420 640,460 570,455 540,400", [470, 470]],
    ["EL SALVADOR", "570,455 640,460 690,490 670,535 590,525", [520, 548]],
    ["HONDURAS", "660,350 800,345 930,380 900,440 780,480 690,490 640,460 680,420", [880, 475]],
  ];
  for (const [name, pts, at] of land) {
    el("svg:polygon", { points: pts, class: "land" }, svg);
    el("svg:text", { x: at[0], y: at[1], class: "country-label", "text-anchor": "middle", text: name }, svg);
  }
  const links = el("svg:g", { id: "links" }, svg);
  for (const m of S.meta.participants) {
    const [x, y] = PLACES[m] || [500, 300], [hx, hy] = PLACES.GCIF;
    el("svg:line", { x1: x, y1: y, x2: hx, y2: hy, class: "link", id: `link-${m}` }, links);
  }
  el("svg:g", { id: "dots" }, svg);
  const hub = el("svg:g", { class: "node hub", transform: `translate(${PLACES.GCIF})` }, svg);
  el("svg:circle", { r: 40 }, hub);
  el("svg:text", { y: 8, text: "GCIF" }, hub);
  for (const m of S.meta.participants) {
    const g = el("svg:g", {
      class: `node ${S.meta.roles[m] !== S.meta.primary_role ? "observer" : ""}`, id: `node-${m}`,
      transform: `translate(${PLACES[m] || [500, 300]})`,
    }, svg);
    el("svg:circle", { r: 30 }, g);
    const side = SIDE[m];
    // (an inline style: the stylesheet's text-anchor would beat an attribute)
    const at = side === "left" ? { x: -42, y: -4, style: "text-anchor:end" }
      : side === "right" ? { x: 42, y: -4, style: "text-anchor:start" } : { y: -42 };
    el("svg:text", { ...at, text: m }, g);
    const c = side ? { x: at.x, y: 20, style: at.style } : { y: 56 };
    el("svg:text", { ...c, class: "counts", id: `counts-${m}`, text: "" }, g);
  }
}

function animate(from, to, kind) {
  if (!S.live && !S.playing) return;
  const a = PLACES[from], b = PLACES[to];
  if (!a || !b || $("dots").childElementCount > 80) return;
  const dot = el("svg:circle", { r: 11, class: `dot k-${kind}`, cx: a[0], cy: a[1] }, $("dots"));
  const start = performance.now(), span = 900;
  const step = (now) => {
    const f = Math.min(1, (now - start) / span);
    dot.setAttribute("cx", a[0] + (b[0] - a[0]) * f);
    dot.setAttribute("cy", a[1] + (b[1] - a[1]) * f);
    if (f < 1) requestAnimationFrame(step); else dot.remove();
  };
  requestAnimationFrame(step);
}

// ---- events -------------------------------------------------------------
function msg(id) {
  return (S.msgs[id] ||= { id, kind: null, from: null, recipients: [], delivered: {}, withheld: [], redacted: [] });
}

function apply(e, animated) {
  const n = S.nodes;
  switch (e.event) {
    case "published": {
      const m = msg(e.msg); m.kind = e.kind; m.from = e.from; m.inject = e.inject;
      if (n[e.from]) n[e.from].sent++;
      if (animated) animate(e.from, "GCIF", e.kind);
      break;
    }
    case "accepted": {
      const m = msg(e.msg); m.kind = e.kind; m.from = e.from; m.recipients = e.recipients;
      m.withheld = e.withheld || []; m.redacted = e.redacted || []; m.acceptedAt = e.t;
      for (const r of e.recipients) if (n[r]) n[r].pending++;
      break;
    }
    case "rejected": { const m = msg(e.msg); m.rejected = e.reason; break; }
    case "delivered": {
      const m = msg(e.msg); m.kind ||= e.kind; m.delivered[e.to] = e.t;
      if (n[e.to]) { n[e.to].received++; n[e.to].pending = Math.max(0, n[e.to].pending - 1); }
      if (S.inboxes[e.to]) S.inboxes[e.to].push({ id: e.msg, t: e.t, latency: e.latency_ms });
      if (animated) animate("GCIF", e.to, e.kind);
      break;
    }
    case "reshared": {
      const m = msg(e.msg);
      if (!m.recipients.includes(e.to)) m.recipients = m.recipients.concat([e.to]);
      m.redacted = m.redacted.concat(e.redacted || []);
      (m.passedOn ||= {})[e.to] = e.by;
      if (n[e.to]) n[e.to].pending++;
      if (animated) toast(`${e.by} passed ${e.msg} on to ${e.to}`);
      break;
    }
    case "reshare_refused": if (animated) toast(`refused: ${e.by} → ${e.to}: ${e.reason}`); break;
    case "amended": if (animated) toast(`agreement amended: ${e.change}`); break;
    case "fault": S.bands.push({ from: e.t, until: e.until_t, what: `${e.fault} ${e.targets.join("–")}` }); break;
    case "control":
      if (e.action === "cut") S.cut.add(e.detail);
      if (e.action === "heal") S.cut.delete(e.detail);
      if (animated) toast(`${e.action} ${e.detail}`.trim());
      break;
  }
}

function catchUp(animated) {
  const t = nowT();
  while (S.applied < S.events.length && (S.live || S.events[S.applied].t <= t)) {
    apply(S.events[S.applied], animated);
    S.applied++;
  }
}

// ---- panels -------------------------------------------------------------
function render() {
  const t = nowT();
  const { date, time } = fmtDate(S.meta.start_ms + t);
  $("date").textContent = date; $("time").textContent = time;
  const paused = S.live ? !!(S.clock && S.clock.paused) : !S.playing;
  $("clock").dataset.t = Math.round(t);
  $("clock").dataset.paused = String(paused);
  const speed = S.live ? (S.clock ? S.clock.speed : 0) : S.speed;
  $("speed").textContent = `${+speed.toFixed(2)}×`;
  const st = $("state");
  st.textContent = S.live ? (paused ? "PAUSED" : "LIVE") : (paused ? "REPLAY · PAUSED" : "REPLAY");
  st.className = `pill ${S.live ? (paused ? "paused" : "live") : "replay"}`;
  for (const m of S.meta.participants) {
    const c = S.nodes[m];
    $(`counts-${m}`).textContent = `sent ${c.sent} · recv ${c.received} · pend ${c.pending}`;
    $(`link-${m}`).setAttribute("class", `link${(S.live ? S.cut.has(m) : cutAt(m, t)) ? " cut" : ""}`);
  }
  renderTimeline(t);
  renderInboxes();
  if (!S.live) $("scrub").value = Math.round((1000 * t) / span());
}

function span() { return Math.max(S.meta.duration_ms, S.events.length ? S.events[S.events.length - 1].t : 0, 1); }
function cutAt(m, t) { return S.bands.some((b) => b.what.includes(m) && b.what.startsWith("partition") && b.from <= t && t < b.until); }

function renderTimeline(t) {
  const svg = $("timeline"), W = 1000, x = (v) => 10 + ((W - 20) * v) / span();
  svg.innerHTML = "";
  for (const b of S.bands) el("svg:rect", { x: x(b.from), y: 10, width: Math.max(2, x(b.until) - x(b.from)), height: 80, class: "tl-band" }, svg)
    .appendChild(el("svg:title", { text: b.what }));
  const lane = 55;
  for (const m of Object.values(S.msgs)) {
    if (m.acceptedAt === undefined || !m.kind) continue;
    el("svg:rect", { x: x(m.acceptedAt), y: lane - 8, width: 2, height: 16, class: `tl-msg k-${m.kind}` }, svg);
  }
  S.meta.injects.forEach((i, k) => {
    el("svg:line", { x1: x(i.t), x2: x(i.t), y1: 10, y2: 90, class: "tl-inject" }, svg);
    if (S.meta.injects.length <= 24) el("svg:text", { x: x(i.t) + 3, y: 22 + (k % 3) * 14, class: "tl-label", text: i.label }, svg);
  });
  el("svg:line", { x1: 10, x2: W - 10, y1: 90, y2: 90, class: "tl-axis" }, svg);
  for (let k = 0; k <= 6; k++) {
    const v = (span() * k) / 6;
    el("svg:text", { x: x(v), y: 112, class: "tl-tick", "text-anchor": k === 0 ? "start" : k === 6 ? "end" : "middle", text: fmtOffset(v) }, svg);
  }
  el("svg:line", { x1: x(t), x2: x(t), y1: 4, y2: 96, class: "tl-now", id: "tl-now" }, svg);
}

function renderInboxes() {
  const box = $("inboxes");
  for (const m of S.meta.participants) {
    let sec = $(`inbox-${m}`);
    if (!sec) {
      sec = el("section", { class: "inbox", id: `inbox-${m}`, "data-inbox": m }, box);
      const h = el("h3", {}, sec);
      el("span", { text: `${m}${S.meta.roles[m] !== S.meta.primary_role ? ` (${S.meta.roles[m]})` : ""}` }, h);
      el("span", { class: "n" }, h);
      el("ol", {}, sec);
    }
    const items = S.inboxes[m];
    sec.dataset.count = items.length;
    sec.querySelector(".n").textContent = items.length;
    const ol = sec.querySelector("ol");
    if (ol.childElementCount === items.length && ol.dataset.first === (items[items.length - 1] || {}).id) continue;
    ol.innerHTML = "";
    for (const it of items.slice(-60).reverse()) {
      const mm = S.msgs[it.id] || {};
      const li = el("li", { tabindex: 0, "data-msg": it.id, class: `k-${mm.kind}` }, ol);
      el("span", { class: "sw" }, li);
      const w = el("div", { class: "what" }, li);
      el("div", { class: "id", text: it.id }, w);
      el("div", { class: "sub", text: `${KIND_LABEL[mm.kind] || ""} from ${mm.from || "?"} · ${fmtOffset(it.t)}` }, w);
      li.onclick = () => showDetail(it.id, m);
      li.onkeydown = (ev) => { if (ev.key === "Enter") showDetail(it.id, m); };
    }
    ol.dataset.first = (items[items.length - 1] || {}).id;
  }
}

async function showDetail(id, to) {
  const m = S.msgs[id] || {};
  const body = $("detail-body");
  body.innerHTML = "";
  el("h2", { text: `${id} — ${KIND_LABEL[m.kind] || ""}` }, body);
  let env = null;
  try { env = await (await fetch(`/api/message/${encodeURIComponent(id)}?for=${to}`)).json(); } catch (_) { /* shown as unknown */ }
  const red = (m.redacted || []).filter((r) => r.to === to);
  const t = el("table", {}, body);
  const row = (k, v, cls) => { const tr = el("tr", {}, t); el("th", { text: k }, tr); el("td", { text: v, class: cls || "" }, tr); };
  row("as received by", to);
  row("from", m.from || "?");
  if (env) {
    row("handling", `TLP:${String(env.handling).toUpperCase()}`); row("status", env.status); row("type", env.message_type);
    if (env.grading) row("grading", `${env.grading} (source ${env.grading[0]}, information ${env.grading[1]})`);
    if ((env.to || []).length) row("addressed to", env.to.join(", "));
    if (env.controlled) row("originator-controlled", (env.consent || []).length ? `may be passed on to ${env.consent.join(", ")}` : "not to be passed on");
  }
  if (m.passedOn && m.passedOn[to]) row("passed on by", m.passedOn[to]);
  row("also received by", (m.recipients || []).filter((r) => r !== to).map((r) => `${r}${m.delivered[r] !== undefined ? "" : " (pending)"}`).join(", ") || "nobody else");
  if ((m.withheld || []).length) row("withheld from", m.withheld.map((w) => `${w.to}: ${w.reason}`).join("; "));
  const how = (r, f) => (r.generalised || []).includes(f) ? "generalised" : (r.pseudonymised || []).includes(f) ? "pseudonymised" : "removed";
  row("redacted for this recipient", red.length ? red.map((r) => `${r.fields.map((f) => `${f} (${how(r, f)})`).join(", ")} — ${r.reason}`).join("; ") : "nothing", red.length ? "redacted" : "");
  const payload = env && env.payload ? Object.values(env.payload)[0] : null;
  if (payload) {
    for (const [k, v] of Object.entries(payload)) {
      // A field redacted itself, or in part (`holder.birth_date` of `holder`).
      const touched = red.flatMap((r) => r.fields.filter((f) => f === k || f.startsWith(`${k}.`)).map((f) => [f, how(r, f)]));
      const whole = touched.find(([f, h]) => f === k && h === "removed");
      const text = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v ?? "—");
      const note = touched.map(([f, h]) => `${f} ${h}`).join(", ");
      row(k, whole ? "— redacted —" : note ? `${text} (${note})` : text, touched.length ? "redacted" : "");
    }
  }
  $("detail").showModal();
}

let toastTimer = 0;
function toast(text) {
  const t = $("toast"); t.textContent = text; t.classList.add("show");
  clearTimeout(toastTimer); toastTimer = setTimeout(() => t.classList.remove("show"), 2500);
}

// ---- controls -----------------------------------------------------------
async function control(body) {
  const r = await fetch("/api/control", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await r.text();
  if (!r.ok) { toast(text); return false; }
  await pollClock();
  return true;
}

const LIVE_KEYS = [
  [" ", "Space", "pause / resume", () => control({ action: S.clock && S.clock.paused ? "resume" : "pause" })],
  ["n", "N", "next inject", () => control({ action: "step" })],
  ["+", "+", "faster", () => control({ action: "speed", speed: (S.clock ? S.clock.speed : 1) * 2 })],
  ["-", "−", "slower", () => control({ action: "speed", speed: (S.clock ? S.clock.speed : 1) / 2 })],
  ["i", "I", "inject", () => openInject()],
  ["c", "C", "cut link (then 1–5)", () => { S.pick = "cut"; toast("Cut which link? 1–5: " + S.meta.participants.map((m, k) => `${k + 1} ${m}`).join("  ")); }],
  ["h", "H", "heal link (then 1–5)", () => { S.pick = "heal"; toast("Heal which link? 1–5: " + S.meta.participants.map((m, k) => `${k + 1} ${m}`).join("  ")); }],
];
const REPLAY_KEYS = [
  [" ", "Space", "play / pause", () => { S.playing = !S.playing; S.lastFrame = performance.now(); }],
  ["+", "+", "faster", () => { S.speed *= 2; }],
  ["-", "−", "slower", () => { S.speed /= 2; }],
  ["ArrowRight", "→", "forward 2%", () => seek(nowT() + span() / 50)],
  ["ArrowLeft", "←", "back 2%", () => seek(nowT() - span() / 50)],
  ["Home", "Home", "start", () => seek(0)],
];

const NEEDS = { " ": "pause", n: "step", "+": "speed", "-": "speed", i: "inject", c: "cut", h: "heal" };
function setupControls() {
  const offered = new Set(S.meta.controls || []);
  const keys = S.live ? LIVE_KEYS.filter(([k]) => offered.has(NEEDS[k])) : REPLAY_KEYS;
  const bar = $("controls"), foot = $("keys");
  for (const [, label, what, act] of keys) {
    const b = el("button", { type: "button", "data-control": what.split(" ")[0] }, bar);
    b.append(what.split(" (")[0]); el("kbd", { text: label }, b);
    b.onclick = act;
    const s = el("span", {}, foot); el("kbd", { text: label }, s); s.append(what);
  }
  if (S.live) { const s = el("span", {}, foot); el("kbd", { text: "Esc" }, s); s.append("close"); }
  document.addEventListener("keydown", (ev) => {
    if (document.querySelector("dialog[open]")) return;
    if (S.pick && /^[1-9]$/.test(ev.key)) {
      const m = S.meta.participants[+ev.key - 1];
      if (m) control({ action: S.pick, ministry: m });
      S.pick = null; return;
    }
    const k = keys.find(([key]) => key === ev.key || key === ev.key.toLowerCase() || (key === "+" && ev.key === "="));
    if (k) { ev.preventDefault(); k[3](); }
  });
  if (!S.live) {
    const scrub = $("scrub"); scrub.hidden = false;
    scrub.oninput = () => seek((span() * scrub.value) / 1000);
  }
}

function seek(t) {
  S.t = Math.max(0, Math.min(span(), t));
  const wasPlaying = S.playing; S.playing = false;
  resetState(); catchUp(false); S.playing = wasPlaying;
  render();
}

function openInject() {
  const f = $("inject-form");
  const sel = $("f-from"); sel.innerHTML = "";
  for (const m of S.meta.participants) el("option", { text: m }, sel);
  $("f-error").textContent = "";
  showKind();
  $("inject").showModal();
}
function showKind() {
  const kind = $("f-kind").value;
  for (const fs of document.querySelectorAll("#inject-form fieldset")) fs.hidden = fs.dataset.kind !== kind;
}
function list(v) { return v.split(",").map((s) => s.trim()).filter(Boolean); }
function injectMessage(fd) {
  const g = (k) => fd.get(k) || "";
  const num = (k) => (g(k) === "" ? undefined : Number(g(k)));
  const kind = g("kind"), msg = { handling: g("handling") };
  if (kind === "caravan_alert") {
    msg.caravan_alert = { caravan_id: g("caravan_id"), location: { name: g("c_place"), country: g("c_country") },
      estimated_size: num("estimated_size"), minors: num("minors"), heading_to: list(g("heading_to")) };
  } else if (kind === "document_flag") {
    msg.document_flag = { document: { kind: g("d_kind"), issuer: g("d_issuer"), number: g("d_number") },
      holder: { name: g("h_name"), nationality: g("h_nat") || undefined }, indicators: list(g("d_ind")),
      detected_at: { name: g("d_place"), country: g("d_country") } };
  } else {
    msg.cargo_notice = { container: g("container"), bill_of_lading: g("bol"), origin: { name: g("o_place"), country: g("o_country") },
      destination: { name: g("t_place"), country: g("t_country") }, transit: list(g("transit")), risk_score: num("risk"),
      indicators: list(g("g_ind")), recommended_action: g("action") };
  }
  return JSON.stringify(msg);
}
function setupInject() {
  $("f-kind").onchange = showKind;
  $("f-cancel").onclick = () => $("inject").close();
  $("inject-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const fd = new FormData(ev.target);
    const r = await fetch("/api/control", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "inject", from: fd.get("from"), message: injectMessage(fd) }) });
    const text = await r.text();
    if (!r.ok) { $("f-error").textContent = text; return; }
    $("inject").close(); toast(JSON.parse(text).done);
  };
}

// ---- wiring -------------------------------------------------------------
async function pollClock() {
  if (!S.live) return;
  try {
    const c = await (await fetch("/api/clock")).json();
    S.clock = c; S.clockAt = performance.now();
    S.cut = new Set(c.cut || []);
  } catch (_) { /* the run may have ended */ }
}

function frame(now) {
  if (!S.live && S.playing) {
    S.t = Math.min(span(), S.t + (now - S.lastFrame) * S.speed);
    if (S.t >= span()) S.playing = false;
  }
  S.lastFrame = now;
  catchUp(S.caughtUp && (S.live || S.playing));
  render();
  requestAnimationFrame(frame);
}

async function main() {
  S.meta = await (await fetch("/api/meta")).json();
  // Participants the map has no place for (an agreement's additions) sit
  // around its edges, in the order the agreement lists them.
  // [x, y, which side the name goes]
  const SLOTS = [[110, 470], [250, 500], [950, 110, "left"], [950, 450, "left"], [110, 370],
    [960, 30, "left"], [40, 60, "right"], [760, 540]];
  let slot = 0;
  for (const m of S.meta.participants) {
    if (PLACES[m]) continue;
    const [x, y, side] = SLOTS[slot++ % SLOTS.length];
    PLACES[m] = [x, y];
    if (side) SIDE[m] = side;
  }
  S.live = S.meta.mode === "live";
  S.speed = S.meta.speed || 60;
  $("title").textContent = S.meta.title || S.meta.name;
  document.title = `GCIF console — ${S.meta.name}`;
  resetState(); drawMap(); setupControls(); setupInject();
  const src = new EventSource("/api/events");
  let caughtUp = false;
  src.onmessage = (m) => { S.events.push(JSON.parse(m.data)); if (S.live && caughtUp) { /* applied by frame */ } };
  src.addEventListener("caught_up", () => {
    caughtUp = true; S.caughtUp = true; document.body.dataset.ready = "true";
    if (!S.live) { S.playing = true; src.close(); }
  });
  if (S.live) { await pollClock(); setInterval(pollClock, 500); }
  S.lastFrame = performance.now();
  requestAnimationFrame(frame);
}

main().catch((e) => { document.body.dataset.error = String(e); console.error(e); });
