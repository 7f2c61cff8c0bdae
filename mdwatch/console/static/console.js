/* mdwatch 监测工作台: draws the overview's charts (Apache ECharts) from the JSON the page carries.
   No inline script anywhere: the page's Content-Security-Policy allows scripts from this site only. */
(function () {
  "use strict";
  var COLORS = { critical: "#9b1c1c", high: "#d0342c", medium: "#d98e04", low: "#2b8a9e", info: "#8a949e" };

  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var c = window.echarts.getInstanceByDom(el) || window.echarts.init(el, null, { renderer: "canvas" });
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
  }

  function drawOverview() {
    var node = document.getElementById("overview-data");
    if (!node) { return; }
    var d = JSON.parse(node.textContent);
    chart("chart-trend", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 40, right: 16, top: 36, bottom: 30 },
      xAxis: { type: "category", data: d.days.map(function (s) { return s.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: d.severities.map(function (s) {
        return { name: s.name, type: "bar", stack: "all", data: s.data, itemStyle: { color: COLORS[s.key] } };
      })
    });
    chart("chart-rules", {
      tooltip: {}, grid: { left: 230, right: 20, top: 10, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: d.rules.map(function (r) { return r.name; }) },
      series: [{ type: "bar", data: d.rules.map(function (r) { return r.value; }), itemStyle: { color: "#1f5fa8" } }]
    });
    chart("chart-platforms", {
      tooltip: { trigger: "item" }, legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: ["35%", "65%"], data: d.platforms }]
    });
    chart("chart-shops", {
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 160, right: 20, top: 30, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: d.shops.map(function (s) { return s.name; }) },
      series: [
        { name: "严重", type: "bar", stack: "s", data: d.shops.map(function (s) { return s.critical; }), itemStyle: { color: COLORS.critical } },
        { name: "高", type: "bar", stack: "s", data: d.shops.map(function (s) { return s.high; }), itemStyle: { color: COLORS.high } },
        { name: "其他", type: "bar", stack: "s", data: d.shops.map(function (s) { return s.other; }), itemStyle: { color: COLORS.info } }
      ]
    });
  }

  document.addEventListener("DOMContentLoaded", drawOverview);
})();
