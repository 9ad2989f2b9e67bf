// Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">
// with Chart.js (static/vendor/chartjs). The JSON: {"type": "line"|"bar", "labels": [...],
// "series": [{"label": "...", "data": [...]}, ...], "stacked": false}. The table beside each
// chart holds the same numbers, for screen readers and for pages without JavaScript.
(function () {
  "use strict";
  var PALETTE = ["#c2410c", "#2563eb", "#16a34a", "#9333ea", "#ca8a04", "#0891b2", "#db2777"];

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || !window.Chart) return;
    var spec = JSON.parse(source.textContent);
    var stacked = !!spec.stacked;
    var chart = new window.Chart(canvas, {
      type: spec.type || "line",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          var colour = s.color || PALETTE[i % PALETTE.length];
          return { label: s.label, data: s.data, borderColor: colour, backgroundColor: colour,
                   borderWidth: 2, pointRadius: 0, tension: 0 };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: stacked, ticks: { maxTicksLimit: 8, autoSkip: true } },
                  y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom" } }
      }
    });
    canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  });
})();
