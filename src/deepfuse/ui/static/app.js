// deepfuse dashboard: table sorting, SVG line charts, live polling. No libraries, no network
// beyond this server's own /api.
"use strict";
(function () {
  const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_DRAWN = 1500; // points drawn per series; longer series are thinned evenly

  // ------------------------------------------------------------------ sorting
  function sortable(table) {
    const heads = Array.from(table.tHead.rows[0].cells);
    heads.forEach(function (th, index) {
      if (th.hasAttribute("data-nosort")) return;
      th.tabIndex = 0;
      const go = function () {
        const asc = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        const numeric = th.dataset.type === "num";
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const key = function (row) {
          const v = row.cells[index].dataset.value;
          if (v === undefined || v === "") return null;
          return numeric ? parseFloat(v) : v.toLowerCase();
        };
        rows.sort(function (a, b) {
          const x = key(a), y = key(b);
          if (x === null && y === null) return 0;
          if (x === null) return 1; // empty cells last, in both directions
          if (y === null) return -1;
          const c = x < y ? -1 : x > y ? 1 : 0;
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      };
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
    });
  }

  function compareForm(form) {
    const button = form.querySelector("#compare-btn");
    if (!button) return;
    const update = function () {
      button.disabled = form.querySelectorAll('input[name="runs"]:checked').length < 2;
    };
    form.addEventListener("change", update);
    update();
  }

  // ------------------------------------------------------------------ charts
  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceTicks(lo, hi, count, integer) {
    if (!(hi > lo)) { const d = integer ? 1 : Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
    let raw = (hi - lo) / count;
    if (integer) raw = Math.max(raw, 1); // epochs and steps: whole numbers only
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw; });
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    return { lo: lo, hi: hi, ticks: ticks };
  }

  function fmt(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
    return String(+v.toPrecision(4));
  }

  function thin(points) {
    if (points.length <= MAX_DRAWN) return points;
    const out = [], step = (points.length - 1) / (MAX_DRAWN - 1);
    for (let i = 0; i < MAX_DRAWN; i++) out.push(points[Math.round(i * step)]);
    return out;
  }

  // series: [{label, color, dash, points: [[x, y], ...]}]
  // xRange: [lo, hi] the x axis spans at least (a live run's planned epochs)
  function lineChart(title, series, xLabel, id, width, xRange) {
    const box = document.createElement("div");
    box.className = "chart";
    if (id) box.dataset.chart = id;
    const h = document.createElement("h3");
    h.textContent = title;
    box.appendChild(h);
    // drawn at the size it is shown, so that the labels keep their CSS size
    const W = Math.max(300, Math.round(width || 560)), H = 215, L = 56, R = 16, T = 10, B = 34;
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title }, box);
    const all = [];
    series.forEach(function (s) { s.points.forEach(function (p) { all.push(p); }); });
    if (!all.length) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg).textContent = "no data yet";
      return box;
    }
    let xs = all.map(function (p) { return p[0]; }), ys = all.map(function (p) { return p[1]; });
    if (xRange) xs = xs.concat(xRange);
    const xt = niceTicks(Math.min.apply(null, xs), Math.max.apply(null, xs), Math.max(3, Math.floor(W / 90)), true);
    let ylo = Math.min.apply(null, ys), yhi = Math.max.apply(null, ys);
    const pad = (yhi - ylo) * 0.05;
    const yt = niceTicks(ylo - pad, yhi + pad, 5);
    const X = function (x) { return L + (x - xt.lo) / (xt.hi - xt.lo) * (W - L - R); };
    const Y = function (y) { return T + (1 - (y - yt.lo) / (yt.hi - yt.lo)) * (H - T - B); };
    yt.ticks.forEach(function (v) {
      if (v < yt.lo || v > yt.hi) return;
      el("line", { class: "grid", x1: L, x2: W - R, y1: Y(v), y2: Y(v) }, svg);
      el("text", { x: L - 6, y: Y(v) + 3.5, "text-anchor": "end" }, svg).textContent = fmt(v);
    });
    xt.ticks.forEach(function (v) {
      if (v < xt.lo || v > xt.hi) return;
      el("line", { class: "axis", x1: X(v), x2: X(v), y1: H - B, y2: H - B + 4 }, svg);
      el("text", { x: X(v), y: H - B + 15, "text-anchor": "middle" }, svg).textContent = fmt(v);
    });
    el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
    el("text", { x: L + (W - L - R) / 2, y: H - 2, "text-anchor": "middle", class: "xlabel" }, svg).textContent = xLabel;
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach(function (s) {
      if (!s.points.length) return;
      const drawn = thin(s.points);
      const line = el("polyline", {
        class: "series", stroke: s.color, "data-label": s.label, "data-count": s.points.length,
        points: drawn.map(function (p) { return X(p[0]).toFixed(1) + "," + Y(p[1]).toFixed(1); }).join(" "),
      }, svg);
      if (s.dash) line.setAttribute("stroke-dasharray", "5 4");
      el("title", {}, line).textContent = s.label + " (" + s.points.length + " points, last " +
        fmt(s.points[s.points.length - 1][1]) + ")";
      if (s.points.length <= 40) {
        drawn.forEach(function (p) {
          el("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.6, fill: s.color, class: "dot" }, svg);
        });
      }
      const key = document.createElement("span");
      key.className = "key";
      const swatch = document.createElement("i");
      swatch.style.background = s.color;
      if (s.dash) { swatch.className = "dash"; swatch.style.color = s.color; }
      key.appendChild(swatch);
      key.appendChild(document.createTextNode(s.label));
      legend.appendChild(key);
    });
    box.appendChild(legend);
    return box;
  }

  // ------------------------------------------------------------------ data helpers
  const SKIP = { lr: 1, time: 1 };

  function epochKeys(epochs) {
    const keys = [];
    epochs.forEach(function (e) {
      // learning rates (lr, d_optimizer_lr, ...) have their own chart, per step
      // a column with no value (a GAN's empty "loss") gets no chart
      for (const k in e) {
        const has = e[k] !== null && e[k] !== undefined;
        if (has && !SKIP[k] && !/_lr$/.test(k) && keys.indexOf(k) < 0) keys.push(k);
      }
    });
    return keys;
  }

  // the step log's losses: "loss", and those a custom train_step returns (d_loss, g_loss, ...)
  function lossKeys(steps) {
    const keys = [];
    steps.forEach(function (s) {
      for (const k in s) {
        const isLoss = k === "loss" || (/_loss$/.test(k) && k.indexOf("val_") !== 0);
        if (isLoss && s[k] !== null && s[k] !== undefined && keys.indexOf(k) < 0) keys.push(k);
      }
    });
    return keys.length ? keys : ["loss"];
  }

  function epochPoints(epochs, key) {
    const out = [];
    epochs.forEach(function (e, i) { if (e[key] !== null && e[key] !== undefined) out.push([i + 1, e[key]]); });
    return out;
  }

  function stepPoints(steps, key) {
    const out = [];
    steps.forEach(function (s) { if (s[key] !== null && s[key] !== undefined) out.push([s.global_step, s[key]]); });
    return out;
  }

  // the step rows after `cursor` (the previous answer's): the server reads only the new bytes
  function fetchLive(name, offset, cursor) {
    const after = cursor ? "&cursor=" + encodeURIComponent(cursor) : "";
    return fetch("/api/runs/" + encodeURIComponent(name) + "/live?offset=" + offset + after, { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status + " " + r.statusText); return r.json(); });
  }

  // every step row of a run, a page at a time (the compare page draws finished curves)
  function fetchAll(name) {
    const acc = { steps: [] };
    function next(offset, cursor) {
      return fetchLive(name, offset, cursor).then(function (data) {
        acc.steps = acc.steps.concat(data.steps);
        if (data.more) return next(data.offset, data.cursor);
        data.steps = acc.steps;
        return data;
      });
    }
    return next(0, null);
  }

  // ------------------------------------------------------------------ run page
  // the width one chart gets in its grid (two per row on a wide screen, see app.css)
  function chartWidth(box, wide) {
    const cols = box.clientWidth >= 820 && !wide ? 2 : 1;
    return (box.clientWidth - 16 * (cols - 1)) / cols - 22;
  }

  function wide(chart) { chart.classList.add("wide"); return chart; }

  function runCharts(box, state) {
    const charts = [], w = chartWidth(box);
    charts.push(wide(lineChart("loss per step", lossKeys(state.steps).map(function (k, i) {
      const label = (k === "loss" ? "train loss" : k) + " (running mean of the epoch)";
      return { label: label, color: PALETTE[i % PALETTE.length], points: stepPoints(state.steps, k) };
    }), "step", "steps", chartWidth(box, true))));
    const keys = epochKeys(state.epochs);
    const bases = keys.filter(function (k) { return k.indexOf("val_") !== 0; });
    keys.forEach(function (k) {
      if (k.indexOf("val_") === 0 && bases.indexOf(k.slice(4)) < 0) bases.push(k.slice(4));
    });
    bases.forEach(function (base) {
      charts.push(lineChart(base + " per epoch", [
        { label: "train " + base, color: PALETTE[0], points: epochPoints(state.epochs, base) },
        { label: "validation " + base, color: PALETTE[1], dash: true, points: epochPoints(state.epochs, "val_" + base) },
      ], "epoch", "epoch-" + base, w, state.planned ? [1, state.planned] : null));
    });
    const lrs = stepPoints(state.steps, "lr");
    if (lrs.some(function (p) { return p[1] !== lrs[0][1]; })) {
      charts.push(wide(lineChart("learning rate", [{ label: "lr", color: PALETTE[4], points: lrs }], "step", "lr", chartWidth(box, true))));
    }
    box.replaceChildren.apply(box, charts);
  }

  function runPage(box) {
    const name = box.dataset.run;
    const poll = parseInt(box.dataset.poll, 10) || 1500;
    const wasLive = box.dataset.live === "true";
    const note = document.getElementById("live-note");
    const state = { offset: 0, cursor: null, steps: [], epochs: [] };
    function tick() {
      fetchLive(name, state.offset, state.cursor).then(function (data) {
        if (data.restart) state.steps = []; // the log was cut back (a resumed run) or moved
        state.steps = state.steps.concat(data.steps);
        state.offset = data.offset;
        state.cursor = data.cursor;
        if (data.epochs !== null) state.epochs = data.epochs;
        state.planned = data.planned_epochs;
        box.dataset.steps = String(state.steps.length);
        if (data.more) return tick(); // rows are waiting: fetch the next page now, draw after
        runCharts(box, state);
        if (data.status === "in progress") {
          note.className = "muted on";
          note.textContent = "live · step " + state.offset + " · epoch " + data.epochs.length +
            (data.planned_epochs ? " of " + data.planned_epochs : "") + " done";
          setTimeout(tick, poll);
        } else if (wasLive) {
          note.className = "muted";
          note.textContent = "finished · loading the results";
          setTimeout(function () { location.reload(); }, 600);
        }
      }).catch(function (err) {
        note.className = "muted";
        note.textContent = "updates stopped: " + err.message;
      });
    }
    tick();
  }

  // ------------------------------------------------------------------ compare page
  function comparePage(box) {
    const names = JSON.parse(box.dataset.runs);
    Promise.all(names.map(fetchAll)).then(function (runs) {
      const colour = function (i) { return PALETTE[i % PALETTE.length]; };
      const w = chartWidth(box);
      const charts = [wide(lineChart("train loss per step", runs.map(function (r, i) {
        return { label: r.name, color: colour(i), points: stepPoints(r.steps, "loss") };
      }), "step", "steps", chartWidth(box, true)))];
      const keys = [];
      runs.forEach(function (r) { epochKeys(r.epochs).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
      keys.sort(function (a, b) {
        const x = a.replace(/^val_/, ""), y = b.replace(/^val_/, "");
        return x === y ? (a < b ? -1 : 1) : (x < y ? -1 : 1);
      });
      keys.forEach(function (k) {
        charts.push(lineChart(k + " per epoch", runs.map(function (r, i) {
          return { label: r.name, color: colour(i), dash: k.indexOf("val_") === 0, points: epochPoints(r.epochs, k) };
        }), "epoch", "epoch-" + k, w));
      });
      box.replaceChildren.apply(box, charts);
    }).catch(function (err) {
      box.textContent = "Could not load the runs: " + err.message;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable").forEach(sortable);
    const form = document.getElementById("compare-form");
    if (form) compareForm(form);
    const curves = document.getElementById("curves");
    if (curves) runPage(curves);
    const compare = document.getElementById("compare-curves");
    if (compare) comparePage(compare);
  });
})();
