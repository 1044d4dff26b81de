// edujax results page: interactive outcome maps and loss curves, drawn with uPlot.
// The data (written by edujax/page.py) sits in <script id="edujax-data">; binary
// blobs are zlib-compressed base64, inflated here with DecompressionStream.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("edujax-data").textContent);
  const COLORS = DATA.outcomes.map((o) => DATA.colors[o]);
  const DASHES = [[6, 4], [2, 3], [8, 3, 2, 3]]; // the PNG's "--", ":", "-."
  const FONTS = { font: "12px system-ui, sans-serif", labelFont: "bold 12px system-ui, sans-serif" };
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const chip = (code) => `<span class="chip" style="background:${COLORS[code]}"></span>${esc(DATA.outcomes[code])}`;

  // The measure's diverging colormap, as measure.png's (ColorBrewer RdBu, blue for negative): white at
  // 0, the full blue at the low end of the scale and the full red at its high end (two slopes, as
  // matplotlib's TwoSlopeNorm; the ends are the 1st and 99th percentiles, beyond them the colour
  // stays). Runs without a measure are grey.
  const DIVERGING = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"];
  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  function diverging(t) { // t in [0, 1]
    const x = Math.min(Math.max(t, 0), 1) * (DIVERGING.length - 1), k = Math.min(Math.floor(x), DIVERGING.length - 2);
    const a = rgb(DIVERGING[k]), b = rgb(DIVERGING[k + 1]);
    return `rgb(${a.map((v, c) => Math.round(v + (b[c] - v) * (x - k))).join(",")})`;
  }
  // P(converged) on a sequential scale (viridis, as probability.png), and the 95 % Wilson score interval of k in n
  // (edujax.probability.wilson_interval, z = 1.96).
  const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
  function sequential(t) {
    const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1), k = Math.min(Math.floor(x), VIRIDIS.length - 2);
    const a = rgb(VIRIDIS[k]), b = rgb(VIRIDIS[k + 1]);
    return `rgb(${a.map((v, c) => Math.round(v + (b[c] - v) * (x - k))).join(",")})`;
  }
  function wilson(k, n, z = 1.96) {
    const p = k / n, z2 = z * z, centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
    return [Math.max(0, centre - half), Math.min(1, centre + half)];
  }
  const twoSlope = (v, lo, hi) => (v < 0 ? 0.5 - 0.5 * (v / lo) : 0.5 + 0.5 * (v / hi));
  const MISSING_COLOR = "#bdbdbd";

  async function inflate(b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  function strides(shape) {
    const s = shape.map(() => 1);
    for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
    return s;
  }
  const dot = (index, str) => index.reduce((acc, v, d) => acc + v * str[d], 0);

  // The cell whose edges enclose v (edges ascending or descending), or -1.
  function bin(edges, v) {
    for (let i = 0; i + 1 < edges.length; i++) {
      const lo = Math.min(edges[i], edges[i + 1]), hi = Math.max(edges[i], edges[i + 1]);
      if (v >= lo && v <= hi) return i;
    }
    return -1;
  }
  const nearest = (list, i) => list.reduce((best, k) => (Math.abs(k - i) < Math.abs(best - i) ? k : best), list[0]);

  function* product(lists) {
    if (!lists.length) { yield []; return; }
    for (const v of lists[0]) for (const rest of product(lists.slice(1))) yield [v, ...rest];
  }

  // Ticks on a log axis: powers of ten (at most about eight), else 1-2-…-9 × 10^k, else the ends.
  // (uPlot's own log ticks assume the range starts on a power of ten; a map's edges do not.)
  function logTicks(u, axisIndex, lo, hi) {
    const inside = (v) => v >= lo * 0.999 && v <= hi * 1.001;
    const thin = (ticks) => ticks.filter((_, k) => k % Math.ceil(ticks.length / 8) === 0);
    const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    const decades = [];
    for (let k = a; k <= b; k++) if (inside(10 ** k)) decades.push(10 ** k);
    if (decades.length >= 2) return thin(decades);
    const steps = [];
    for (let k = a; k <= b; k++) for (let m = 1; m < 10; m++) if (inside(m * 10 ** k)) steps.push(+(m * 10 ** k).toPrecision(1));
    return steps.length >= 2 ? thin(steps) : [lo, hi];
  }
  const power = (v) => (v == null ? "" : v >= 1e-3 && v < 1e4 ? String(+v.toPrecision(3)) : v.toExponential(0).replace("e+", "e"));
  const logAxis = { splits: logTicks, values: (u, splits) => splits.map(power), filter: (u, splits) => splits };

  const isLog = (axis) => axis.scale === "log" && Math.min(...axis.edges) > 0; // a 1-value axis may get edges ≤ 0

  function scaleOf(axis) {
    const e = axis.edges, lo = Math.min(e[0], e[e.length - 1]), hi = Math.max(e[0], e[e.length - 1]);
    // The first grid value sits at the origin, as on the PNG (descending axes run backwards).
    return { time: false, auto: false, distr: isLog(axis) ? 3 : 1, range: () => [lo, hi], dir: e[0] > e[e.length - 1] ? -1 : 1 };
  }

  function axisOf(axis, vertical) {
    const opts = { label: axis.scale === "points" ? `${axis.title} (index)` : axis.title, stroke: "#222", grid: { show: false }, ...FONTS };
    if (isLog(axis)) Object.assign(opts, logAxis);
    if (axis.scale === "points" || axis.scale === "choice") {
      const every = Math.ceil(axis.size / 12);
      opts.splits = () => axis.centres.filter((_, k) => k % every === 0);
      opts.values = (u, splits) => splits.map((s) => (axis.scale === "choice" ? axis.labels[s] : String(s)));
      if (vertical && axis.scale === "choice") opts.size = 20 + 7 * Math.max(...axis.labels.map((l) => l.length));
    }
    return opts;
  }

  async function render(exp) {
    const section = document.getElementById(`exp-${exp.dir}`);
    const E = exp.examples, M = exp.measure;
    const [major, full, codes, rangeBytes, exCodes, exRangeBytes, measureBytes] = await Promise.all([
      inflate(exp.majority), exp.outcome ? inflate(exp.outcome) : null, inflate(exp.curves.codes), inflate(exp.curves.ranges),
      E ? inflate(E.codes) : null, E ? inflate(E.ranges) : null, M ? inflate(M.values) : null,
    ]);
    const measure = M ? new Int16Array(measureBytes.buffer) : null; // little-endian, as every browser's typed arrays
    const shape = exp.shape, fullStrides = strides(shape);
    const kept = [...exp.drawn, ...exp.faceted].sort((a, b) => a - b);
    const keptStrides = strides(kept.map((d) => shape[d]));
    const X = exp.axes[exp.drawn[0]], Y = exp.drawn.length > 1 ? exp.axes[exp.drawn[1]] : null;
    const F = exp.faceted.length ? exp.faceted[0] : null;
    const state = { facet: 0, hover: null, picked: null, shown: null, view: "outcome" };

    // Grid index of every dimension for map cell (i, j) at the current facet; aggregated dims from `rest`.
    function gridIndex(cell, rest = []) {
      return shape.map((_, d) => {
        if (d === exp.drawn[0]) return cell.i;
        if (Y && d === exp.drawn[1]) return cell.j;
        if (d === F) return state.facet;
        return rest[exp.aggregated.indexOf(d)];
      });
    }
    const majorityAt = (index) => major[dot(kept.map((d) => index[d]), keptStrides)];
    // The measure at a map cell (its median over aggregated axes), or null where a run has none.
    const measureAt = (index) => {
      const q = measure[dot(kept.map((d) => index[d]), keptStrides)];
      return q === DATA.missing ? null : q / 100;
    };
    const measureColor = (v) => (v === null ? MISSING_COLOR : diverging(twoSlope(v, M.low, M.high)));
    // With seeds: how many runs of each map cell ended in `converged` (k of n, over the aggregated axes).
    const P = exp.probability, runsPerCell = exp.aggregated.reduce((n, d) => n * shape[d], 1);
    const hits = P ? new Uint32Array(kept.reduce((n, d) => n * shape[d], 1)) : null;
    if (P) full.forEach((code, flat) => {
      if (code !== P.outcome) return;
      hits[dot(kept.map((d) => Math.floor(flat / fullStrides[d]) % shape[d]), keptStrides)]++;
    });
    const hitsAt = (index) => hits[dot(kept.map((d) => index[d]), keptStrides)];
    const colorAt = (index) => (state.view === "measure" ? measureColor(measureAt(index))
      : state.view === "probability" ? sequential(hitsAt(index) / runsPerCell) : COLORS[majorityAt(index)]);

    // --- the facet selector -------------------------------------------------------------
    const facetDiv = section.querySelector(".facet");
    if (F !== null) {
      const fa = exp.axes[F];
      facetDiv.innerHTML = `<label>${esc(fa.title)} = <output>${esc(fa.labels[0])}</output>
        <input type="range" min="0" max="${fa.size - 1}" value="0"></label>`;
      const input = facetDiv.querySelector("input"), output = facetDiv.querySelector("output");
      input.addEventListener("input", () => {
        state.facet = Number(input.value);
        output.textContent = fa.labels[state.facet];
        map.redraw(false, false);
      });
    }

    // --- the outcome map ----------------------------------------------------------------
    function drawMap(u) {
      const ctx = u.ctx, { left, top, width, height } = u.bbox, px = devicePixelRatio || 1;
      ctx.save();
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      const xp = X.edges.map((v) => Math.round(u.valToPos(v, "x", true)));
      const yp = Y ? Y.edges.map((v) => Math.round(u.valToPos(v, "y", true))) : [top + height, top];
      for (let j = 0; j < yp.length - 1; j++) {
        const y0 = Math.min(yp[j], yp[j + 1]), h = Math.abs(yp[j + 1] - yp[j]);
        for (let i = 0; i < X.size; ) { // one rectangle per run of equal colours along the row
          const color = colorAt(gridIndex({ i, j }));
          let k = i + 1;
          while (k < X.size && colorAt(gridIndex({ i: k, j })) === color) k++;
          ctx.fillStyle = color;
          ctx.fillRect(Math.min(xp[i], xp[k]), y0, Math.abs(xp[k] - xp[i]), h);
          i = k;
        }
      }
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 2 * px;
      exp.boundaries.forEach((b, n) => {
        const v = b.values[F === null ? 0 : state.facet];
        if (v == null) return; // not finite here
        ctx.setLineDash(DASHES[n % DASHES.length].map((d) => d * px));
        ctx.beginPath();
        if (!Array.isArray(v)) {
          const x = u.valToPos(v, "x", true);
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
        } else {
          let down = false;
          (b.axis === 0 ? Y : X).centres.forEach((c, k) => {
            const [xv, yv] = b.axis === 0 ? [v[k], c] : [c, v[k]];
            const x = u.valToPos(xv, "x", true), y = u.valToPos(yv, "y", true);
            if (!Number.isFinite(x) || !Number.isFinite(y)) { down = false; return; }
            down ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
            down = true;
          });
        }
        ctx.stroke();
      });
      ctx.setLineDash([]);
      for (const [cell, color, pad] of [[state.shown, "#fff", 5], [state.picked, "#000", 3]]) {
        if (!cell) continue; // a box around the clicked cell (black) and the stored run drawn for it (white)
        ctx.strokeStyle = color;
        ctx.lineWidth = 1.5 * px;
        const cx = (xp[cell.i] + xp[cell.i + 1]) / 2, cy = (yp[cell.j] + yp[cell.j + 1]) / 2;
        const hx = Math.abs(xp[cell.i + 1] - xp[cell.i]) / 2 + pad * px, hy = Math.abs(yp[cell.j + 1] - yp[cell.j]) / 2 + pad * px;
        ctx.strokeRect(cx - hx, cy - hy, 2 * hx, 2 * hy);
      }
      ctx.restore();
    }

    function cellAt(u) {
      const { left, top } = u.cursor;
      if (left == null || left < 0 || top < 0) return null;
      const i = bin(X.edges, u.posToVal(left, "x")), j = Y ? bin(Y.edges, u.posToVal(top, "y")) : 0;
      return i < 0 || j < 0 ? null : { i, j };
    }

    function describe(cell) {
      const index = gridIndex(cell, exp.aggregated.map(() => 0));
      const rows = kept.map((d) => `<div>${esc(exp.axes[d].title)}: <b>${esc(exp.axes[d].labels[index[d]])}</b></div>`);
      const code = majorityAt(index);
      if (M) {
        const v = measureAt(index), over = exp.aggregated.length ? " (median)" : "";
        rows.push(`<div class="measure">measure${over}: <b>${v === null ? "none" : v.toFixed(2)}</b></div>`);
      }
      if (!exp.aggregated.length) return rows.join("") + `<div class="outcome">${chip(code)}</div>`;
      const tally = DATA.outcomes.map(() => 0);
      for (const rest of product(exp.aggregated.map((d) => [...Array(shape[d]).keys()]))) tally[full[dot(gridIndex(cell, rest), fullStrides)]]++;
      const over = exp.aggregated.map((d) => exp.axes[d].title).join(", ");
      if (P) {
        const k = hitsAt(index), [lo, hi] = wilson(k, runsPerCell);
        rows.push(`<div class="probability">P(${esc(DATA.outcomes[P.outcome])}): <b>${(k / runsPerCell).toFixed(2)}</b> ` +
          `[${lo.toFixed(2)}, ${hi.toFixed(2)}] (95 % Wilson; ${k} of ${runsPerCell})</div>`);
      }
      const counts = tally.map((n, c) => (n ? `${chip(c)} ${n}` : "")).filter(Boolean).join(" · ");
      return rows.join("") + `<div class="outcome">${chip(code)} (most common)</div><div class="tally">over ${esc(over)}: ${counts}</div>`;
    }

    const mapDiv = section.querySelector(".heatmap");
    const tip = document.createElement("div");
    tip.className = "tip";
    function onCursor(u) {
      const cell = cellAt(u);
      state.hover = cell;
      if (!cell) { tip.style.display = "none"; return; }
      tip.innerHTML = describe(cell);
      tip.style.display = "block";
      const flip = u.cursor.left > u.bbox.width / devicePixelRatio / 2;
      tip.style.left = `${u.over.offsetLeft + u.cursor.left + (flip ? -tip.offsetWidth - 14 : 14)}px`;
      tip.style.top = `${u.over.offsetTop + u.cursor.top + 14}px`;
    }

    const xs = scaleOf(X), ys = Y ? scaleOf(Y) : { time: false, auto: false, range: () => [0, 1] };
    const map = new uPlot({
      width: 460, height: Y ? 400 : 150,
      legend: { show: false },
      cursor: { x: false, y: false, points: { show: false }, drag: { x: false, y: false, setScale: false } },
      scales: { x: xs, y: ys },
      axes: [axisOf(X, false), Y ? axisOf(Y, true) : { show: false }],
      series: [{}, { stroke: "transparent" }],
      hooks: { draw: [drawMap], setCursor: [onCursor] },
    }, [xs.range(), [null, null]], mapDiv);
    mapDiv.appendChild(tip);
    map.over.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    map.over.addEventListener("click", () => { if (state.hover) showCurves(state.hover); });

    const present = DATA.outcomes.map((_, c) => c).filter((c) => major.includes(c));
    const lines = exp.boundaries.map((b, n) => `<span><svg width="32" height="10"><line x1="0" y1="5" x2="32" y2="5" stroke="#000"
      stroke-width="2" stroke-dasharray="${DASHES[n % DASHES.length].join(" ")}"/></svg>${esc(b.label)}</span>`).join("");
    function drawLegend() {
      let keys = present.map((c) => `<span>${chip(c)}</span>`).join("");
      if (state.view === "probability") {
        const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${sequential(t)} ${t * 100}%`).join(", ");
        keys = `<span class="colorbar"><b>0</b><i style="background:linear-gradient(to right, ${stops})"></i><b>1</b></span>
          <span class="measure-note">share of the ${runsPerCell} runs per cell that ended ${esc(DATA.outcomes[P.outcome])}</span>`;
      }
      if (state.view === "measure") {
        const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${diverging(t)} ${t * 100}%`).join(", ");
        keys = `<span class="colorbar"><b>${+M.low.toPrecision(2)}</b><i style="background:linear-gradient(to right, ${stops})"></i>
          <b>+${+M.high.toPrecision(2)}</b></span><span class="measure-note">log10(final gap / initial gap): blue converged by that many
          decades, red blew up${measure.includes(DATA.missing) ? `; <span class="chip" style="background:${MISSING_COLOR}"></span>no measure` : ""}</span>`;
      }
      section.querySelector(".legend").innerHTML = keys + lines;
    }
    drawLegend();
    function setView(view) {
      state.view = view;
      drawLegend();
      map.redraw(false, false);
    }
    section.querySelectorAll(".view input").forEach((input) => input.addEventListener("change", () => setView(input.value)));

    // --- loss curves of the clicked cell: its own whenever stored, else the nearest stored run ---
    // Stored: record-point curves for the sub-grid S (every run of small grids), and every-step
    // curves (thinned) of the representative runs E; ranges hold all lows, then all highs.
    const curveDiv = section.querySelector(".curve");
    const S = exp.curves.sampled, subStrides = strides(S.map((s) => s.length));
    const stored = { steps: exp.curves.steps, codes, ranges: new DataView(rangeBytes.buffer), rows: S.reduce((n, s) => n * s.length, 1) };
    const dense = E && { steps: E.steps, codes: exCodes, ranges: new DataView(exRangeBytes.buffer), rows: E.index.length };
    const exampleRow = new Map(E ? E.index.map((flat, row) => [flat, row]) : []);
    let chart = null;
    function decode(store, row) {
      const lo = store.ranges.getInt16(2 * row, true) / 100, hi = store.ranges.getInt16(2 * (store.rows + row), true) / 100;
      const n = store.steps.length;
      return store.steps.map((_, t) => {
        const q = store.codes[row * n + t];
        return q === DATA.nonfinite ? null : 10 ** (lo + (q / DATA.levels) * (hi - lo));
      });
    }
    function run(index) { // a run's stored curve: [steps, values], the densest kept, or null
      const flat = dot(index, fullStrides);
      if (exampleRow.has(flat)) return { every: true, xy: [dense.steps, decode(dense, exampleRow.get(flat))] };
      const pos = index.map((v, d) => S[d].indexOf(v));
      return pos.every((p) => p >= 0) ? { every: false, xy: [stored.steps, decode(stored, dot(pos, subStrides))] } : null;
    }
    function showCurves(cell) {
      const target = gridIndex(cell, exp.aggregated.map(() => 0));
      const runsAt = (base) => [...product(exp.aggregated.map((d) => [...Array(shape[d]).keys()]))].map((rest) => {
        const index = base.map((v, d) => (exp.aggregated.includes(d) ? rest[exp.aggregated.indexOf(d)] : v));
        return { index, curve: run(index) };
      }).filter((r) => r.curve);
      let runs = runsAt(target);
      const exact = runs.length > 0;
      if (!exact) runs = runsAt(target.map((v, d) => nearest(S[d], v)));
      runs = runs.map(({ index, curve }) => {
        const outcome = full ? full[dot(index, fullStrides)] : majorityAt(index);
        const label = exp.axes.map((a, d) => `${a.title} = ${a.labels[index[d]]}`).join(", ") + ` → ${DATA.outcomes[outcome]}`;
        return { index, outcome, label, curve };
      });
      const at = runs[0].index;
      state.picked = cell;
      state.shown = { i: at[exp.drawn[0]], j: Y ? at[exp.drawn[1]] : 0 };
      const where = kept.map((d) => `${esc(exp.axes[d].title)} = ${esc(exp.axes[d].labels[at[d]])}`).join(", ");
      const every = runs.filter((r) => r.curve.every).length;
      const total = exp.aggregated.reduce((n, d) => n * shape[d], 1);
      const resolution = every === runs.length ? `every step (${dense.steps.length} points)`
        : every ? `every step for ${every}, ${exp.curves.steps.length} record points for the others` : `${exp.curves.steps.length} record points`;
      curveDiv.innerHTML = `<p class="caption">${exact ? "Loss curve of the run at" : "This run's curve is not stored; nearest stored run:"}
        <b>${where}</b>${total > 1 ? ` (${runs.length} of ${total} runs)` : ""}, ${resolution}.</p><div class="chart"></div>`;
      if (chart) chart.destroy();
      const data = runs.length === 1 ? runs[0].curve.xy : uPlot.join(runs.map((r) => r.curve.xy));
      chart = new uPlot({
        width: 460, height: 320,
        scales: { x: { time: false }, y: { distr: 3, range: (u, lo, hi) => (lo == null ? [1e-12, 1] : uPlot.rangeLog(lo, hi, 10, true)) } },
        axes: [{ label: "step", stroke: "#222", ...FONTS }, { label: exp.global_min_known ? "loss − global min" : "loss − lowest loss reached", stroke: "#222", size: 64, ...FONTS,
          ...logAxis }],
        legend: { live: false },
        series: [{ label: "step" }, ...runs.map((r) => ({ label: r.label, stroke: COLORS[r.outcome], width: 1.5, spanGaps: true }))],
      }, data, curveDiv.querySelector(".chart"));
      map.redraw(false, false);
    }

    // --- a 1-D sweep: outcome shares (stacked) and the measure (median, min-max band) along its axis ---
    const lineCharts = [];
    if (exp.line) {
      const L = exp.line, LX = exp.axes[L.axis], linesDiv = section.querySelector(".lines");
      const xScale = { time: false, distr: LX.scale === "log" ? 3 : 1 };
      const xAxis = { label: LX.title, stroke: "#222", ...FONTS, ...(LX.scale === "log" ? logAxis : {}) };
      L.panels.forEach((panel) => {
        const box = document.createElement("div");
        box.className = "line-panel";
        box.innerHTML = `<p class="caption">${esc(panel.title || exp.name)}: ${panel.runs} run${panel.runs > 1 ? "s" : ""} per value</p>`;
        linesDiv.appendChild(box);
        // stacked shares: series k is the share of outcomes 0..k, drawn from the top down so each fill covers the next
        const present = panel.shares.map((row, c) => c).filter((c) => panel.shares[c]);
        let sum = L.centres.map(() => 0);
        const tops = present.map((c) => (sum = sum.map((v, t) => v + panel.shares[c][t])));
        const order = present.map((_, k) => k).reverse();
        lineCharts.push(new uPlot({
          width: 460, height: 220, legend: { live: false },
          scales: { x: xScale, y: { auto: false, range: [0, 1] } },
          axes: [xAxis, { label: "share of runs", stroke: "#222", ...FONTS }],
          series: [{}, ...order.map((k) => ({ label: DATA.outcomes[present[k]], stroke: COLORS[present[k]], fill: COLORS[present[k]], width: 1, paths: uPlot.paths.stepped({ align: 0 }) }))],
        }, [L.centres, ...order.map((k) => tops[k])], box));
        lineCharts.push(new uPlot({
          width: 460, height: 220, legend: { live: false },
          scales: { x: xScale, y: { auto: true } },
          axes: [xAxis, { label: "log10(final / initial gap)", stroke: "#222", size: 56, ...FONTS }],
          series: [{}, { label: "median", stroke: "#053061", width: 2 }, { label: "max", stroke: "#92c5de", width: 1 },
            { label: "min", stroke: "#92c5de", width: 1 }],
          bands: [{ series: [2, 3], fill: "rgba(67,147,195,0.3)" }],
        }, [L.centres, panel.median, panel.high, panel.low], box));
      });
    }

    // For tests and the curious: where cell (i, j) is on screen, and what is drawn.
    return [exp.dir, {
      cellCenter(i, j = 0) {
        const r = map.over.getBoundingClientRect();
        const x = (map.valToPos(X.edges[i], "x") + map.valToPos(X.edges[i + 1], "x")) / 2;
        const y = Y ? (map.valToPos(Y.edges[j], "y") + map.valToPos(Y.edges[j + 1], "y")) / 2 : map.over.clientHeight / 2;
        // Whole pixels: the browser delivers mouse events at whole pixels, and a cell of a 256-row map is
        // barely wider than one, so a fractional centre could land in the neighbouring cell.
        return { x: Math.round(r.left + x), y: Math.round(r.top + y) };
      },
      setFacet(f) { const input = facetDiv.querySelector("input"); input.value = f; input.dispatchEvent(new Event("input")); },
      setView(view) { section.querySelector(`.view input[value="${view}"]`).click(); },
      colorAt: (i, j = 0) => colorAt(gridIndex({ i, j }, exp.aggregated.map(() => 0))),
      lines: () => lineCharts.map((c) => ({ x: c.data[0], series: c.series.slice(1).map((s, k) => ({ label: s.label, values: c.data[k + 1] })) })),
      curves: () => (chart ? { steps: chart.data[0], series: chart.series.slice(1).map((s, k) => ({ label: s.label, values: chart.data[k + 1] })) } : null),
    }];
  }

  window.edujaxPage = Promise.all(DATA.experiments.map(render)).then(
    (maps) => { document.body.dataset.ready = "yes"; return Object.fromEntries(maps); },
    (err) => { document.body.dataset.ready = "failed"; console.error(err); throw err; },
  );
})();
