// Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">
// with Chart.js (static/vendor/chartjs), and every <svg data-heat="ID"> as a heat grid. The JSON:
// {"type": "line"|"bar"|"funnel"|"heat", "labels": [...], "series": [{"label": "...", "data":
// [...]}, ...], "stacked": false, "highlight": "label of the bar to mark"}. The table beside
// each chart holds the same numbers, for screen readers and for pages without JavaScript.
(function () {
  "use strict";
  var PALETTE = ["#c2410c", "#2563eb", "#16a34a", "#9333ea", "#ca8a04", "#0891b2", "#db2777"];
  var SVG = "http://www.w3.org/2000/svg";

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || !window.Chart) return;
    var spec = JSON.parse(source.textContent);
    var stacked = !!spec.stacked;
    var funnel = spec.type === "funnel";
    var chart = new window.Chart(canvas, {
      type: funnel ? "bar" : (spec.type || "line"),
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          var colour = s.color || PALETTE[i % PALETTE.length];
          if (funnel) {  // every step muted but the biggest drop
            colour = spec.labels.map(function (label) {
              return label === spec.highlight ? "#c2410c" : "#93a4c3";
            });
          }
          return { label: s.label, data: s.data, borderColor: colour, backgroundColor: colour,
                   borderWidth: 2, pointRadius: 0, tension: 0 };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: stacked, ticks: { maxTicksLimit: 8, autoSkip: true, callback: shortLabel } },
                  y: { stacked: stacked, beginAtZero: true } },
        plugins: { legend: { position: "bottom", display: !funnel } }
      }
    });
    canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
  }

  // Long category names (post titles) would be cut off at the chart's edge: the axis shows
  // the first SHORT characters, the tooltip and the table the whole name.
  var SHORT = 24;
  function shortLabel(value) {
    var label = String(this.getLabelForValue(value));
    return label.length > SHORT ? label.slice(0, SHORT - 1) + "\u2026" : label;
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A heat grid: one row per label, one cell per series after the first (the first is the
  // row's size, written at the left); a cell's darkness is its value out of 100.
  function heat(svg) {
    var source = document.getElementById(svg.getAttribute("data-heat"));
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var cols = spec.series.slice(1);
    var left = 96, top = 22, cw = 44, ch = 24;
    var width = left + Math.max(cols.length, 1) * cw, height = top + spec.labels.length * ch + 2;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.style.maxWidth = width * 1.6 + "px";
    cols.forEach(function (s, j) {
      svg.appendChild(el("text", { x: left + j * cw + cw / 2, y: 14, "text-anchor": "middle", "font-size": 10,
                                   fill: "#6e6e73" }, String(j)));
    });
    spec.labels.forEach(function (label, i) {
      var y = top + i * ch;
      svg.appendChild(el("text", { x: 0, y: y + 16, "font-size": 11, fill: "#1d1d1f" },
                         label + " (" + spec.series[0].data[i] + ")"));
      cols.forEach(function (s, j) {
        var v = s.data[i];
        if (v === null || v === undefined) return;
        var cell = el("rect", { x: left + j * cw, y: y, width: cw - 2, height: ch - 2, rx: 3,
                                fill: "#c2410c", "fill-opacity": String(0.06 + 0.94 * Math.min(v, 100) / 100) });
        cell.appendChild(el("title", {}, label + ", month " + j + ": " + v + "%"));
        svg.appendChild(cell);
        svg.appendChild(el("text", { x: left + j * cw + cw / 2 - 1, y: y + 15, "text-anchor": "middle",
                                     "font-size": 10, fill: v > 55 ? "#fff" : "#1d1d1f" }, String(Math.round(v))));
      });
    });
    svg.setAttribute("data-drawn", String(spec.labels.length));
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
    document.querySelectorAll("svg[data-heat]").forEach(heat);
  });
})();
