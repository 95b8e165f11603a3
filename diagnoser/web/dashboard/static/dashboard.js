// Diagnoser dashboard: localises <time> elements and draws the charts (uPlot, vendored). The pages read fine
// without it: times stay in UTC, and every chart has its numbers in a table or in words beside it.
(function () {
  "use strict";

  var PALETTE = ["#2f5bd3", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0b7285", "#e67700", "#5c940d",
                 "#a61e4d", "#8d5524", "#868e96", "#495057"];

  function relative(date) {
    var seconds = (Date.now() - date.getTime()) / 1000;
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    var text;
    if (seconds < 60) text = "just now";
    else if (seconds < 3600) text = Math.round(seconds / 60) + " min";
    else if (seconds < 86400) text = Math.round(seconds / 3600) + " h";
    else if (seconds < 86400 * 45) text = Math.round(seconds / 86400) + " d";
    else return null;
    if (text === "just now") return text;
    return future ? "in " + text : text + " ago";
  }

  function localiseTimes() {
    var format = new Intl.DateTimeFormat(undefined, {year: "numeric", month: "short", day: "numeric",
                                                      hour: "2-digit", minute: "2-digit"});
    var nodes = document.querySelectorAll("time[datetime]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var date = new Date(node.getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      var local = format.format(date);
      node.title = local;
      var rel = node.hasAttribute("data-rel") ? relative(date) : null;
      node.textContent = rel || local;
    }
  }

  function readData(id) {
    var block = document.getElementById(id);
    if (!block) return null;
    try { return JSON.parse(block.textContent); } catch (e) { return null; }
  }

  function days(axis) {
    return axis.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
  }

  function width(el) { return Math.max(300, el.clientWidth || 800); }

  function stacked(el, data) {
    // Stacked bars: series k is drawn at the sum of the first k+1 causes, the tallest first, so each shorter
    // bar covers the part of the one behind it that is not its own.
    var n = data.axis.length, cumulative = [], running = new Array(n).fill(0);
    data.series.forEach(function (s) {
      running = running.map(function (v, i) { return v + s.counts[i]; });
      cumulative.push(running.slice());
    });
    var order = data.series.map(function (s, k) { return k; }).reverse();
    var bars = uPlot.paths.bars({size: [0.8, 40]});
    var series = [{}], values = [days(data.axis)];
    order.forEach(function (k) {
      var color = PALETTE[k % PALETTE.length];
      series.push({label: data.series[k].name, stroke: color, fill: color, width: 0, paths: bars,
                   points: {show: false}});
      values.push(cumulative[k]);
    });
    if (data.series.length === 0) {
      series.push({label: "reports", stroke: PALETTE[0], fill: PALETTE[0], paths: bars, points: {show: false}});
      values.push(new Array(n).fill(0));
    }
    return new uPlot({width: width(el), height: 260, legend: {show: false}, cursor: {show: true, points: {show: false}},
                      scales: {x: {time: true}, y: {range: function (u, min, max) { return [0, Math.max(1, max)]; }}},
                      series: series}, values, el);
  }

  function bars(el, data) {
    var s = data.series[0];
    return new uPlot({width: width(el), height: 180, legend: {show: false},
                      scales: {x: {time: true}, y: {range: function (u, min, max) { return [0, Math.max(1, max)]; }}},
                      series: [{}, {label: s.name, stroke: PALETTE[0], fill: PALETTE[0], width: 0,
                                    paths: uPlot.paths.bars({size: [0.8, 20]}), points: {show: false}}]},
                     [days(data.axis), s.counts], el);
  }

  function drawCharts() {
    if (typeof uPlot === "undefined") return;
    var nodes = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i], data = readData(el.getAttribute("data-source"));
      if (!data) continue;
      var chart = el.getAttribute("data-chart") === "stacked" ? stacked(el, data) : bars(el, data);
      el.setAttribute("data-drawn", "1");
      (function (el, chart) {
        window.addEventListener("resize", function () { chart.setSize({width: width(el), height: chart.height}); });
      })(el, chart);
    }
  }

  function selectAll() {
    var boxes = document.querySelectorAll("input.select-all");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      box.hidden = false;
      box.addEventListener("change", function (event) {
        var form = event.target.form, checked = event.target.checked;
        var items = form.querySelectorAll("input[name=ids]");
        for (var j = 0; j < items.length; j++) items[j].checked = checked;
      });
    }
  }

  function start() {
    localiseTimes();
    drawCharts();
    selectAll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
