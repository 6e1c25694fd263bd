// The message-flow (Lamport) diagram of a gcif-sim run report.
// Reads the run from the JSON block #flow-data; draws into the SVG #flow.
// Lanes are hosts, simulated time runs downwards, one arrow per transmission.
// Past AGG_LIMIT transmissions in view, arrows are aggregated per time row.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("flow-data").textContent);
  var svg = document.getElementById("flow");
  var tip = document.getElementById("tip");
  var wrap = document.getElementById("flow-wrap");
  var detail = document.getElementById("flow-detail");
  var status = document.getElementById("flow-status");
  var NS = "http://www.w3.org/2000/svg";
  var W = 1100, TOP = 34, LEFT = 120, RIGHT = 60, HEIGHT = 760, AGG_LIMIT = 1500, ROWS = 90;
  var COLORS = { caravan_alert: "#1565c0", document_flag: "#8e24aa", cargo_notice: "#e65100" };
  var FAIL = "#b3261e";
  var end = Math.max(D.end, 1);
  var view = { t0: 0, t1: end };
  var kindsOn = {};
  D.kinds.forEach(function (k) { kindsOn[k] = true; });
  var filter = "";
  var selected = -1;
  var laneX = [];
  var span = (W - LEFT - RIGHT) / Math.max(D.lanes.length - 1, 1);
  for (var i = 0; i < D.lanes.length; i++) laneX.push(LEFT + i * span);

  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function y(t) { return TOP + (t - view.t0) / (view.t1 - view.t0) * HEIGHT; }
  function tOf(py) { return view.t0 + (py - TOP) / HEIGHT * (view.t1 - view.t0); }
  function pad(n, w) { n = String(n); while (n.length < (w || 2)) n = "0" + n; return n; }
  // Simulated time since start: +1d 02:03:04.005 (ms shown only when useful).
  function fmtT(t, withMs) {
    t = Math.max(0, Math.round(t));
    var ms = t % 1000, s = Math.floor(t / 1000), d = Math.floor(s / 86400);
    var h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return "+" + (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60) + (withMs ? "." + pad(ms, 3) : "");
  }
  // The scenario's local clock time at t.
  function clock(t) {
    var dt = new Date(D.startMs + t + D.offsetMin * 60000);
    return dt.toISOString().slice(0, 16).replace("T", " ");
  }
  function dur(ms) {
    if (ms < 1000) return ms + "ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
    var s = Math.round(ms / 1000);
    if (ms < 3600000) return Math.floor(s / 60) + "m" + pad(s % 60) + "s";
    return Math.floor(s / 3600) + "h" + pad(Math.floor(s % 3600 / 60)) + "m";
  }
  function msgMatches(mi) {
    var m = D.msgs[mi];
    if (!kindsOn[D.kinds[m[1]]]) return false;
    if (!filter) return true;
    return m[0].toLowerCase().indexOf(filter) >= 0 || (m[3] || "").toLowerCase().indexOf(filter) >= 0 ||
      (m[4] || "").toLowerCase().indexOf(filter) >= 0;
  }
  function txEnd(x) { return x[5] >= 0 ? x[5] : (x[6] >= 0 ? x[6] : x[4]); }
  function txText(k) {
    var x = D.tx[k], m = D.msgs[x[0]];
    var lines = [m[0] + (m[3] ? "  (" + m[3] + ")" : "") + " — " + D.kinds[m[1]].replace("_", " "),
      D.lanes[x[1]] + " → " + D.lanes[x[2]] + ", attempt " + x[3] + (x[3] > 1 ? " (retry)" : ""),
      "sent " + fmtT(x[4], true) + "  (" + clock(x[4]) + ")"];
    if (x[5] >= 0) lines.push("arrived " + fmtT(x[5], true) + ", after " + dur(x[5] - x[4]) + (x[7] ? " — duplicate, discarded" : ""));
    if (x[6] >= 0) lines.push("failed " + fmtT(x[6], true) + ": " + D.errors[x[8]]);
    if (x[5] < 0 && x[6] < 0) lines.push("no answer recorded before the run ended");
    if (m[4]) lines.push(m[4]);
    return lines.join("\n");
  }
  function showTip(ev, text) {
    tip.textContent = text;
    tip.style.display = "block";
    var r = wrap.getBoundingClientRect();
    var x = ev.clientX - r.left + 14, yy = ev.clientY - r.top + 14;
    if (x + 420 > r.width) x = Math.max(0, ev.clientX - r.left - 430);
    tip.style.left = x + "px";
    tip.style.top = yy + "px";
  }
  function hideTip() { tip.style.display = "none"; }

  function niceStep(range) {
    var steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5,
      9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5];
    for (var i = 0; i < steps.length; i++) if (range / steps[i] <= 14) return steps[i];
    return 864e5 * Math.ceil(range / 864e5 / 14);
  }

  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + W + " " + (TOP + HEIGHT + 16));
    var range = view.t1 - view.t0;
    // time grid
    var step = niceStep(range);
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      el("line", { x1: LEFT - 60, x2: W - RIGHT, y1: y(t), y2: y(t), "class": "tick" }, svg);
      var lab = el("text", { x: 4, y: y(t) + 3, "class": "tick-label" }, svg);
      lab.textContent = fmtT(t, step < 1000);
      var c = el("text", { x: 4, y: y(t) + 14, "class": "tick-label" }, svg);
      c.textContent = clock(t).slice(5);
    }
    // fault bands (their labels go on top of everything, at the end)
    var labels = [];
    D.faults.forEach(function (f, fi) {
      if (f[3] < view.t0 || f[2] > view.t1) return;
      var xs = f[1].map(function (l) { return laneX[l]; });
      var x0 = Math.min.apply(null, xs) - 14, x1 = Math.max.apply(null, xs) + 14;
      var y0 = y(Math.max(f[2], view.t0)), y1 = y(Math.min(f[3], view.t1));
      var r = el("rect", { x: x0, y: y0, width: x1 - x0, height: Math.max(2, y1 - y0), "class": "band-" + f[0] }, svg);
      r.addEventListener("mousemove", function (ev) {
        showTip(ev, f[4] + "\n" + fmtT(f[2]) + " – " + fmtT(f[3]) + " (" + dur(f[3] - f[2]) + ")\nclick to zoom to it");
      });
      r.addEventListener("mouseleave", hideTip);
      r.addEventListener("click", function () { zoomTo(f[2] - (f[3] - f[2]) * 0.15, f[3] + (f[3] - f[2]) * 0.6); });
      r.style.cursor = "pointer";
      if (y0 > TOP - 1) labels.push([x0 + 3, y0 + 11, f[4]]);
    });
    // lanes
    D.lanes.forEach(function (name, i) {
      el("line", { x1: laneX[i], x2: laneX[i], y1: TOP - 6, y2: TOP + HEIGHT, "class": "lane" + (name === "GCIF" ? " hub" : "") }, svg);
      var l = el("text", { x: laneX[i], y: 16, "class": "lane-label" }, svg);
      l.textContent = name === "GCIF" ? "GCIF hub" : name;
    });
    // transmissions in view
    var inView = [];
    for (var k = 0; k < D.tx.length; k++) {
      var x = D.tx[k];
      if (x[4] > view.t1 || txEnd(x) < view.t0) continue;
      if (!msgMatches(x[0])) continue;
      inView.push(k);
    }
    var aggregated = inView.length > AGG_LIMIT;
    if (aggregated) drawAggregated(inView); else inView.forEach(drawTx);
    labels.forEach(function (l) {
      var t = el("text", { x: l[0], y: l[1], "class": "band-label" }, svg);
      t.textContent = l[2];
    });
    // What is drawn, for tests and for anyone reading the DOM.
    svg.setAttribute("data-mode", aggregated ? "aggregated" : "arrows");
    svg.setAttribute("data-in-view", String(inView.length));
    svg.setAttribute("data-arrows", String(svg.querySelectorAll("g[data-tx]").length));
    svg.setAttribute("data-view", Math.round(view.t0) + "-" + Math.round(view.t1));
    if (D.tx.length === 0) {
      status.textContent = "No message was sent in this run: nothing to draw between the lanes.";
      return;
    }
    status.textContent = "Showing " + fmtT(view.t0) + " – " + fmtT(view.t1) + " (" + clock(view.t0) + " – " +
      clock(view.t1) + "): " + inView.length.toLocaleString("en") + " transmissions" +
      (aggregated ? " — too many to draw one by one, so each lane shows its load per time row (darker = busier; red = failed attempts) with the scripted injects' arrows on top. Drag, click a cell or zoom in for single arrows."
        : ". Hover an arrow for the message; click it to follow the message; drag on the diagram to zoom.");
  }

  function drawTx(k) {
    var x = D.tx[k], m = D.msgs[x[0]];
    var color = COLORS[D.kinds[m[1]]];
    var xa = laneX[x[1]], xb = laneX[x[2]], ya = y(x[4]);
    var cls = "tx" + (m[3] ? " inject" : "") + (x[3] > 1 ? " retry" : "");
    if (selected >= 0) cls += x[0] === selected ? " sel" : " dim";
    var g = el("g", { "data-tx": k }, svg);
    var xe, ye;
    if (x[5] >= 0) {
      xe = xb; ye = y(x[5]);
    } else {
      // Never arrived: stop part-way, at the failure (or the end of the run).
      var tEnd = x[6] >= 0 ? x[6] : end;
      xe = xa + (xb - xa) * 0.45; ye = y(tEnd);
      cls += " failed";
    }
    el("line", { x1: xa, y1: ya, x2: xe, y2: ye, stroke: x[5] >= 0 ? color : FAIL, "class": cls }, g);
    if (x[5] >= 0) {
      // arrow head
      var ang = Math.atan2(ye - ya, xe - xa), s = 7;
      var p = [xe, ye, xe - s * Math.cos(ang - 0.4), ye - s * Math.sin(ang - 0.4), xe - s * Math.cos(ang + 0.4), ye - s * Math.sin(ang + 0.4)];
      el("polygon", { points: p.join(","), fill: color, "class": "mark" + (selected >= 0 && x[0] !== selected ? " dim" : "") }, g);
      if (x[7]) el("circle", { cx: xe, cy: ye, r: 5, fill: "#fff", stroke: color, "stroke-width": 1.6, "class": "mark" }, g);
    } else {
      var c = 4;
      el("path", { d: "M" + (xe - c) + "," + (ye - c) + "L" + (xe + c) + "," + (ye + c) + "M" + (xe - c) + "," + (ye + c) + "L" + (xe + c) + "," + (ye - c),
        stroke: FAIL, "stroke-width": 2, "class": "mark" }, g);
    }
    var hit = el("line", { x1: xa, y1: ya, x2: xe, y2: ye, "class": "hit" }, g);
    hit.addEventListener("mousemove", function (ev) { showTip(ev, txText(k)); });
    hit.addEventListener("mouseleave", hideTip);
    hit.addEventListener("click", function (ev) { ev.stopPropagation(); select(x[0]); });
  }

  // Too many arrows to read: show each lane's load per time row as a heat
  // strip (opacity = transmissions sent or received there, colour = the
  // busiest kind, a red tick where attempts failed), and keep the arrows of
  // scripted injects on top.
  function drawAggregated(list) {
    var h = (view.t1 - view.t0) / ROWS;
    var cells = {}, maxN = 1;
    function cell(lane, t) {
      var r = Math.min(ROWS - 1, Math.max(0, Math.floor((t - view.t0) / h)));
      var key = lane * ROWS + r;
      var c = cells[key] || (cells[key] = { lane: lane, r: r, sent: 0, recv: 0, failed: 0, retries: 0, kinds: [0, 0, 0] });
      return c;
    }
    var injectTx = [];
    list.forEach(function (k) {
      var x = D.tx[k], m = D.msgs[x[0]];
      if (x[4] >= view.t0) {
        var c = cell(x[1], x[4]);
        c.sent++; c.kinds[m[1]]++; if (x[3] > 1) c.retries++;
        maxN = Math.max(maxN, c.sent + c.recv);
      }
      if (x[5] >= view.t0 && x[5] <= view.t1) {
        var d = cell(x[2], x[5]);
        d.recv++; d.kinds[m[1]]++;
        maxN = Math.max(maxN, d.sent + d.recv);
      }
      if (x[6] >= view.t0 && x[6] <= view.t1) cell(x[1], x[6]).failed++;
      if (m[3] || x[0] === selected) injectTx.push(k);
    });
    var rowH = HEIGHT / ROWS;
    Object.keys(cells).forEach(function (key) {
      var c = cells[key], n = c.sent + c.recv;
      var best = 0;
      for (var i = 1; i < 3; i++) if (c.kinds[i] > c.kinds[best]) best = i;
      var t = view.t0 + c.r * h;
      var op = 0.12 + 0.88 * Math.log(1 + n) / Math.log(1 + maxN);
      var g = el("g", {}, svg);
      var r = el("rect", { x: laneX[c.lane] - 16, y: y(t), width: 32, height: Math.max(1, rowH - 0.5),
        fill: COLORS[D.kinds[best]], "fill-opacity": op.toFixed(3) }, g);
      if (c.failed) el("rect", { x: laneX[c.lane] + 17, y: y(t), width: 5, height: Math.max(1, rowH - 0.5), fill: FAIL }, g);
      var text = D.lanes[c.lane] + ", " + fmtT(t) + " – " + fmtT(t + h) + "\nsent " + c.sent + " (" + c.retries +
        " retries), received " + c.recv + ", failed attempts " + c.failed + "\n" +
        D.kinds.map(function (k, i) { return c.kinds[i] + " " + k.replace("_", " "); }).join(", ") + "\nclick to zoom in";
      r.style.cursor = "zoom-in";
      r.addEventListener("mousemove", function (ev) { showTip(ev, text); });
      r.addEventListener("mouseleave", hideTip);
      r.addEventListener("click", function (ev) { ev.stopPropagation(); zoomTo(t - h * 2, t + h * 3); });
    });
    if (injectTx.length <= AGG_LIMIT) injectTx.forEach(drawTx);
  }

  function select(mi) {
    selected = mi;
    draw();
    if (mi < 0) { detail.innerHTML = ""; setHash(""); return; }
    var m = D.msgs[mi];
    setHash("msg=" + m[0]);
    var rows = [];
    D.tx.forEach(function (x) {
      if (x[0] !== mi) return;
      rows.push("<tr><td class=t>" + fmtT(x[4], true) + "</td><td>" + D.lanes[x[1]] + " → " + D.lanes[x[2]] +
        "</td><td class=num>" + x[3] + "</td><td>" + (x[5] >= 0 ? "arrived " + fmtT(x[5], true) + (x[7] ? " (duplicate, discarded)" : "")
          : (x[6] >= 0 ? "failed " + fmtT(x[6], true) + ": " + esc(D.errors[x[8]]) : "no answer by the end")) + "</td></tr>");
    });
    detail.innerHTML = "<div class=figure style='display:block'><b>" + esc(m[0]) + (m[3] ? " · " + esc(m[3]) : "") +
      "</b><span>" + esc(D.kinds[m[1]].replace("_", " ")) + " from " + esc(D.lanes[m[2]]) + " · " + esc(m[5]) + "</span>" +
      (m[4] ? "<p>" + esc(m[4]) + "</p>" : "") +
      "<table><tr><th>sent</th><th>hop</th><th class=num>attempt</th><th>result</th></tr>" + rows.join("") + "</table>" +
      "<button type=button id=flow-unselect class=noprint>Show all messages</button> " +
      "<button type=button id=flow-fit-msg class=noprint>Zoom to this message</button></div>";
    document.getElementById("flow-unselect").onclick = function () { select(-1); };
    document.getElementById("flow-fit-msg").onclick = function () {
      var lo = Infinity, hi = 0;
      D.tx.forEach(function (x) { if (x[0] === mi) { lo = Math.min(lo, x[4]); hi = Math.max(hi, txEnd(x)); } });
      if (lo <= hi) zoomTo(lo - (hi - lo + 200) * 0.2, hi + (hi - lo + 200) * 0.2);
    };
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]; });
  }

  function zoomTo(a, b) {
    var min = 50;
    a = Math.max(0, a); b = Math.min(end, b);
    if (b - a < min) { var c = (a + b) / 2; a = Math.max(0, c - min / 2); b = a + min; }
    view.t0 = a; view.t1 = b;
    draw();
  }
  function zoomBy(f) {
    var c = (view.t0 + view.t1) / 2, h = (view.t1 - view.t0) * f / 2;
    zoomTo(c - h, c + h);
  }
  function pan(f) {
    var d = (view.t1 - view.t0) * f;
    if (view.t0 + d < 0) d = -view.t0;
    if (view.t1 + d > end) d = end - view.t1;
    view.t0 += d; view.t1 += d;
    draw();
  }

  // brush: drag vertically on the diagram to zoom to that time range
  var brush = null, brushStart = 0;
  function svgY(ev) {
    var r = svg.getBoundingClientRect();
    return (ev.clientY - r.top) * (TOP + HEIGHT + 16) / r.height;
  }
  svg.addEventListener("mousedown", function (ev) {
    brushStart = svgY(ev);
    brush = el("rect", { x: 0, width: W, y: brushStart, height: 0, "class": "brush" }, svg);
  });
  window.addEventListener("mousemove", function (ev) {
    if (!brush) return;
    var yy = svgY(ev);
    brush.setAttribute("y", Math.min(yy, brushStart));
    brush.setAttribute("height", Math.abs(yy - brushStart));
  });
  window.addEventListener("mouseup", function (ev) {
    if (!brush) return;
    var yy = svgY(ev), rect = brush;
    brush = null;
    if (Math.abs(yy - brushStart) > 8) zoomTo(tOf(Math.min(yy, brushStart)), tOf(Math.max(yy, brushStart)));
    // A click, not a drag: leave the drawing alone, or the arrow, cell or
    // band under the pointer would be gone before its click event.
    else if (rect.parentNode) rect.parentNode.removeChild(rect);
  });

  document.getElementById("flow-fit").onclick = function () { zoomTo(0, end); };
  document.getElementById("flow-in").onclick = function () { zoomBy(0.5); };
  document.getElementById("flow-out").onclick = function () { zoomBy(2); };
  document.getElementById("flow-up").onclick = function () { pan(-0.5); };
  document.getElementById("flow-down").onclick = function () { pan(0.5); };
  document.getElementById("flow-filter").addEventListener("input", function (ev) {
    filter = ev.target.value.trim().toLowerCase();
    draw();
  });
  Array.prototype.forEach.call(document.querySelectorAll("#flow-controls input[data-kind]"), function (box) {
    box.addEventListener("change", function () { kindsOn[box.getAttribute("data-kind")] = box.checked; draw(); });
  });
  var jump = document.getElementById("flow-jump");
  D.jumps.forEach(function (j, i) {
    var o = document.createElement("option");
    o.value = String(i);
    o.textContent = j[0];
    jump.appendChild(o);
  });
  jump.addEventListener("change", function () {
    var j = D.jumps[Number(jump.value)];
    if (!j) return;
    if (j[3] >= 0) select(j[3]);
    zoomTo(j[1], j[2]);
  });
  // Selects message `id`, zooms to it and shows the diagram; false when the
  // run has no such message.
  function follow(id) {
    for (var i = 0; i < D.msgs.length; i++) if (D.msgs[i][0] === id) {
      select(i);
      document.getElementById("flow-fit-msg").click();
      document.getElementById("flow-section").scrollIntoView();
      return true;
    }
    return false;
  }
  // Links in the report's tables (href #msg=ID) follow that message.
  Array.prototype.forEach.call(document.querySelectorAll("a[data-msg]"), function (a) {
    a.addEventListener("click", function (ev) {
      if (follow(a.getAttribute("data-msg"))) ev.preventDefault();
    });
  });
  svg.addEventListener("click", function () { hideTip(); });

  // Deep links: #msg=GT-MINGOB-000029 follows a message, #t=START-END shows
  // that time range (simulated ms since the start).
  function setHash(h) {
    if (history.replaceState) history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }
  function fromHash() {
    var h = decodeURIComponent(location.hash.replace(/^#/, ""));
    var m = /^msg=(.+)$/.exec(h);
    if (m) {
      if (!follow(m[1])) status.textContent = "No message " + m[1] + " in this run.";
      return true;
    }
    var t = /^t=(\d+)-(\d+)$/.exec(h);
    if (t && Number(t[2]) > Number(t[1])) {
      zoomTo(Number(t[1]), Number(t[2]));
      document.getElementById("flow-section").scrollIntoView();
      return true;
    }
    return false;
  }
  window.addEventListener("hashchange", fromHash);
  if (!fromHash()) draw();
})();
