"""The catalogue page's inline style and script (see :mod:`.page`).

The script reads the JSON data element, then builds everything with DOM calls and
``textContent`` (never ``innerHTML``), so names from the catalogue are never parsed as markup.
Only the visible page of the table gets its row elements and arcs, so thousands of movies stay
quick; the map draws one circle per scored movie.
"""

PAGE_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.2rem auto;
       max-width: 1280px; padding: 0 1.2rem; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .3rem; margin: 0 0 .6rem;
     font-size: 1.6rem; }
h2 { margin: .4rem 0 .6rem; }
.banner { background: #fff3cd; border: 2px solid #d39e00; padding: .5rem 1rem; margin: .4rem 0; }
.layout { display: flex; flex-wrap: wrap; gap: 1.2rem; align-items: flex-start; }
.table-pane { flex: 1 1 640px; min-width: 0; overflow-x: auto; }
.map-pane { flex: 0 0 320px; }
.map-pane h2 { margin-top: 0; font-size: 1.1rem; }
.controls { display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; margin-bottom: .5rem; }
.controls input[type=search] { font-size: 1rem; padding: .3rem .5rem; width: 16rem; }
.controls button { padding: .2rem .6rem; }
table { border-collapse: collapse; font-size: .85rem; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .2rem .35rem; text-align: right;
         vertical-align: middle; }
th { background: #f0f4f8; cursor: pointer; user-select: none; }
th.nosort { cursor: default; }
th[aria-sort=ascending]::after { content: " \\25B2"; font-size: .7em; }
th[aria-sort=descending]::after { content: " \\25BC"; font-size: .7em; }
td.text, th.text { text-align: left; }
td .pm, td .ci { color: #777; font-size: .8em; }
td.vad { white-space: nowrap; }
tr:hover td { background: #f7fbff; }
a { color: #1f5f9f; }
.demo-mark { background: #d39e00; color: #fff; border-radius: 3px; padding: 0 .3rem;
             font-size: .75em; font-weight: bold; margin-left: .3rem; }
.ood { color: #b3261e; font-weight: bold; }
.error { color: #b3261e; }
.muted { color: #777; }
svg.map { background: #fbfbfb; border: 1px solid #ddd; }
svg .point { stroke: #333; stroke-width: .6; cursor: pointer; }
svg .point:hover, svg .point.active { stroke: #000; stroke-width: 2; }
svg .point.dim { display: none; }
svg .axis { stroke: #999; stroke-width: 1; }
svg .grid { stroke: #e3e3e3; stroke-width: 1; }
svg text { font-size: 11px; fill: #555; }
svg text.corner { fill: #aaa; font-style: italic; }
svg .ood-track { fill: #b3261e; fill-opacity: .07; }
svg text.ood-mark { fill: #b3261e; font-weight: bold; font-size: 13px; }
#tooltip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #888;
           padding: .3rem .5rem; font-size: .85rem; box-shadow: 0 2px 6px rgba(0,0,0,.2);
           display: none; z-index: 10; max-width: 20rem; }
.summary td, .summary th { text-align: right; }
.legend span { margin-right: 1rem; }
.legend i { display: inline-block; width: 14px; height: 3px; vertical-align: middle;
            margin-right: .3rem; }
.pager { color: #555; }
"""

PAGE_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("catalogue-data").textContent);
  var LABELS = data.labels;
  var COLOURS = {valence: "#1f77b4", arousal: "#d62728", dominance: "#2ca02c"};
  var SVG_NS = "http://www.w3.org/2000/svg";
  var PAGE_SIZE = 50;
  var app = document.getElementById("app");

  function records(columns, rows) {
    return rows.map(function (row) {
      var record = {};
      columns.forEach(function (name, i) { record[name] = row[i]; });
      return record;
    });
  }

  function el(tag, props) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "text") { node.textContent = props[key]; }
      else if (key === "className") { node.className = props[key]; }
      else { node.setAttribute(key, props[key]); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) { continue; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function missing(value) { return value === null || value === undefined; }
  function fmt(value, digits) {
    return missing(value) ? "\u2013" : Number(value).toFixed(digits === undefined ? 2 : digits);
  }
  function clock(seconds) {
    if (missing(seconds)) { return "\u2013"; }
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var rest = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + rest : m + ":" + rest;
  }

  var movies = records(data.movie_columns, data.movies);
  movies.forEach(function (movie) {
    var stds = LABELS.map(function (l) { return movie[l + "_std"]; }).filter(function (v) {
      return !missing(v);
    });
    movie.spread = stds.length ? stds.reduce(function (a, b) { return a + b; }, 0) / stds.length
                               : null;
    movie.haystack = [movie.title, movie.id, movie.model_short].concat(
      data.extras.map(function (e) { return movie[e]; })).join(" ").toLowerCase();
  });
  // Every movie demo: the banner says it once; a mixed catalogue marks its demo rows.
  var mixed = movies.some(function (m) { return m.demo; }) &&
              movies.some(function (m) { return !m.demo; });
  var byId = new Map(movies.map(function (m) { return [String(m.id), m]; }));
  var state = {filter: "", key: "title", dir: 1, page: 0, visible: movies};

  // ------------------------------------------------------------------------------- arcs
  function arcRows(id) { return records(data.arc_columns, data.arcs[id] || []); }

  function drawArc(id, width, height, options) {
    var rows = arcRows(id), pad = options.pad || 0;
    var box = svg("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height,
                          "class": options.className || "arc", role: "img"});
    if (!rows.length) {
      var none = svg("text", {x: 4, y: height / 2 + 4});
      none.textContent = options.empty || "no readable track";
      box.appendChild(none);
      return box;
    }
    var end = rows[rows.length - 1].album_end_s || 1;
    var x = function (t) { return pad + (width - 2 * pad) * t / end; };
    var y = function (v) { return height - pad - (height - 2 * pad) * v; };
    if (options.axes) {
      [0, 0.5, 1].forEach(function (v) {
        box.appendChild(svg("line", {x1: pad, x2: width - pad, y1: y(v), y2: y(v),
                                     "class": "grid"}));
        var tick = svg("text", {x: 2, y: y(v) + 4}); tick.textContent = v.toFixed(1);
        box.appendChild(tick);
      });
      rows.forEach(function (row) {
        box.appendChild(svg("line", {x1: x(row.album_start_s), x2: x(row.album_start_s),
                                     y1: pad, y2: height - pad, "class": "grid"}));
        if (row.out_of_domain === true) {
          box.appendChild(svg("rect", {x: x(row.album_start_s), y: pad,
            width: Math.max(x(row.album_end_s) - x(row.album_start_s), 0.5),
            height: height - 2 * pad, "class": "ood-track"}));
          var mark = svg("text", {x: (x(row.album_start_s) + x(row.album_end_s)) / 2 - 2,
                                  y: pad - 6, "class": "ood-mark"});
          mark.textContent = "!";
          box.appendChild(mark);
        }
      });
    }
    LABELS.forEach(function (label) {
      if (options.bands) {
        rows.forEach(function (row) {
          var low = row[label + "_low"], high = row[label + "_high"];
          if (missing(low) || missing(high)) { return; }
          box.appendChild(svg("rect", {x: x(row.album_start_s), y: y(high),
            width: Math.max(x(row.album_end_s) - x(row.album_start_s), 0.5),
            height: Math.max(y(low) - y(high), 0.5), fill: COLOURS[label],
            "fill-opacity": 0.15, "class": "band band-" + label}));
        });
      }
      var points = [];
      rows.forEach(function (row) {
        if (missing(row[label])) { return; }
        points.push(x(row.album_start_s) + "," + y(row[label]));
        points.push(x(row.album_end_s) + "," + y(row[label]));
      });
      box.appendChild(svg("polyline", {points: points.join(" "), fill: "none",
        stroke: COLOURS[label], "stroke-width": options.stroke || 1.2, "class": "line-" + label}));
    });
    return box;
  }

  // -------------------------------------------------------------------------- the table
  var columns = [{key: "title", label: "Title", text: true}];
  data.extras.forEach(function (extra) {
    columns.push({key: extra, label: extra, text: typeof (movies[0] || {})[extra] === "string"});
  });
  columns.push({key: "n_tracks", label: "Tracks", title: "tracks (of them unreadable)"});
  LABELS.forEach(function (label) {
    columns.push({key: label + "_mean", label: label.charAt(0).toUpperCase() + label.slice(1),
                  title: "duration-weighted mean \u00b1 spread over the tracks", vad: label});
  });
  columns.push({key: "spread", label: "Spread",
                title: "mean over V, A, D of the duration-weighted std across tracks"});
  columns.push({key: null, label: "Arc", title: "V, A, D over album time"});
  columns.push({key: "model_short", label: "Model", text: true});
  columns.push({key: "n_ood", label: "Out of domain", title: "tracks unlike the training music"});

  function cell(movie, column) {
    var td = el("td", {className: column.text ? "text" : (column.vad ? "vad" : "")});
    if (column.key === "title") {
      td.appendChild(el("a", {href: "#movie=" + encodeURIComponent(movie.id), text: movie.title}));
    } else if (column.vad) {
      var label = column.vad;
      td.appendChild(document.createTextNode(fmt(movie[label + "_mean"])));
      if (!missing(movie[label + "_std"])) {
        td.appendChild(el("span", {className: "pm", text: " \u00b1" + fmt(movie[label + "_std"])}));
      }
      if (!missing(movie[label + "_low"])) {
        td.appendChild(el("div", {className: "ci", text: fmt(movie[label + "_low"]) +
                                  "\u2013" + fmt(movie[label + "_high"])}));
      }
    } else if (column.key === null) {
      td.appendChild(drawArc(String(movie.id), 90, 28, {pad: 2}));
    } else if (column.key === "n_tracks") {
      td.textContent = movie.n_tracks + (movie.n_failed ? " (" + movie.n_failed + ")" : "");
    } else if (column.key === "n_ood") {
      td.textContent = missing(movie.n_ood) ? "not checked" : String(movie.n_ood);
      if (movie.n_ood) { td.className = "ood"; }
    } else if (column.key === "model_short") {
      td.textContent = movie.model_short || "";
      td.setAttribute("title", movie.model || "");
      if (movie.demo && mixed) {
        td.appendChild(el("span", {className: "demo-mark", text: "DEMO"}));
      }
    } else if (column.key === "spread") {
      td.textContent = fmt(movie.spread);
    } else {
      td.textContent = missing(movie[column.key]) ? "\u2013" : String(movie[column.key]);
    }
    return td;
  }

  function compare(key, dir) {
    return function (a, b) {
      var u = a[key], v = b[key];
      if (missing(u) && missing(v)) { return 0; }
      if (missing(u)) { return 1; }
      if (missing(v)) { return -1; }
      if (typeof u === "string" || typeof v === "string") {
        return dir * String(u).localeCompare(String(v), undefined, {numeric: true});
      }
      return dir * (u - v);
    };
  }

  function applyFilter() {
    var words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
    state.visible = movies.filter(function (movie) {
      return words.every(function (w) { return movie.haystack.indexOf(w) >= 0; });
    }).sort(compare(state.key, state.dir));
    var pages = Math.max(1, Math.ceil(state.visible.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
  }

  var listView = el("section", {id: "list-view"});
  var movieView = el("section", {id: "movie-view", hidden: "hidden"});
  var tooltip = el("div", {id: "tooltip", role: "tooltip"});
  var filterInput = el("input", {type: "search", id: "filter",
                                 placeholder: "Filter: title, year, genre, model\u2026",
                                 "aria-label": "Filter movies"});
  var count = el("span", {id: "count", className: "pager"});
  var prev = el("button", {id: "prev", type: "button", text: "\u2039 Previous"});
  var next = el("button", {id: "next", type: "button", text: "Next \u203a"});
  var pageInfo = el("span", {id: "page-info", className: "pager"});
  var head = el("tr");
  var body = el("tbody");
  var table = el("table", {id: "movies"}, el("thead", {}, head), body);
  var points = new Map();

  columns.forEach(function (column) {
    var th = el("th", {className: (column.text ? "text " : "") + (column.key ? "" : "nosort"),
                       text: column.label});
    if (column.title) { th.setAttribute("title", column.title); }
    if (column.key) {
      th.setAttribute("data-key", column.key);
      th.addEventListener("click", function () {
        state.dir = state.key === column.key ? -state.dir : 1;
        state.key = column.key;
        state.page = 0;
        refresh();
      });
    }
    head.appendChild(th);
  });

  function renderRows() {
    body.textContent = "";
    var start = state.page * PAGE_SIZE;
    state.visible.slice(start, start + PAGE_SIZE).forEach(function (movie) {
      var tr = el("tr", {"data-id": String(movie.id)});
      columns.forEach(function (column) { tr.appendChild(cell(movie, column)); });
      body.appendChild(tr);
    });
    if (!state.visible.length) {
      body.appendChild(el("tr", {}, el("td", {className: "text muted", colspan: columns.length,
        text: movies.length ? "No movie matches the filter." : "No movie in this catalogue."})));
    }
    var pages = Math.max(1, Math.ceil(state.visible.length / PAGE_SIZE));
    count.textContent = state.visible.length + " of " + movies.length + " movies";
    pageInfo.textContent = "page " + (state.page + 1) + " of " + pages;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }

  function refresh() {
    applyFilter();
    head.querySelectorAll("th[data-key]").forEach(function (th) {
      var key = th.getAttribute("data-key");
      if (key === state.key) {
        th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
    renderRows();
    var shown = new Set(state.visible.map(function (m) { return String(m.id); }));
    points.forEach(function (point, id) { point.classList.toggle("dim", !shown.has(id)); });
  }

  filterInput.addEventListener("input", function () {
    state.filter = filterInput.value;
    state.page = 0;
    refresh();
  });
  prev.addEventListener("click", function () { state.page -= 1; renderRows(); });
  next.addEventListener("click", function () { state.page += 1; renderRows(); });

  // ---------------------------------------------------------------------------- the map
  function moodText(movie) {
    return LABELS.map(function (label) {
      var text = label + " " + fmt(movie[label + "_mean"]);
      if (!missing(movie[label + "_low"])) {
        text += " [" + fmt(movie[label + "_low"]) + ", " + fmt(movie[label + "_high"]) + "]";
      }
      return text;
    }).join(" \u00b7 ");
  }

  function buildMap() {
    var size = 320, pad = 28, span = size - 2 * pad;
    var map = svg("svg", {id: "va-map", "class": "map", width: size, height: size,
                          viewBox: "0 0 " + size + " " + size, role: "img",
                          "aria-label": "Movies by valence and arousal"});
    var x = function (v) { return pad + span * v; };
    var y = function (v) { return size - pad - span * v; };
    [0, 0.25, 0.5, 0.75, 1].forEach(function (v) {
      map.appendChild(svg("line", {x1: x(v), x2: x(v), y1: y(0), y2: y(1), "class": "grid"}));
      map.appendChild(svg("line", {x1: x(0), x2: x(1), y1: y(v), y2: y(v), "class": "grid"}));
    });
    map.appendChild(svg("line", {x1: x(0), x2: x(1), y1: y(0), y2: y(0), "class": "axis"}));
    map.appendChild(svg("line", {x1: x(0), x2: x(0), y1: y(0), y2: y(1), "class": "axis"}));
    [["valence \u2192", size / 2 - 24, size - 8, 0], ["arousal \u2192", 12, size / 2 + 24, -90],
     ["tense", x(0.03), y(0.95), 0], ["excited", x(0.78), y(0.95), 0],
     ["sad", x(0.03), y(0.03), 0], ["calm", x(0.84), y(0.03), 0]].forEach(function (spec, i) {
      var text = svg("text", {x: spec[1], y: spec[2], "class": i > 1 ? "corner" : ""});
      if (spec[3]) {
        text.setAttribute("transform", "rotate(-90 " + spec[1] + " " + spec[2] + ")");
      }
      text.textContent = spec[0];
      map.appendChild(text);
    });
    movies.forEach(function (movie) {
      var v = movie.valence_mean, a = movie.arousal_mean;
      if (missing(v) || missing(a)) { return; }
      var d = missing(movie.dominance_mean) ? 0.5 : movie.dominance_mean;
      var point = svg("circle", {cx: x(v), cy: y(a), r: 5, "class": "point",
        "data-id": String(movie.id), fill: "hsl(210, 60%, " + Math.round(85 - 55 * d) + "%)",
        tabindex: 0, "aria-label": movie.title});
      point.addEventListener("mouseenter", function (event) { showTip(movie, event); });
      point.addEventListener("mousemove", function (event) { showTip(movie, event); });
      point.addEventListener("mouseleave", hideTip);
      point.addEventListener("focus", function () {
        var box = point.getBoundingClientRect();
        showTip(movie, {clientX: box.right, clientY: box.top});
      });
      point.addEventListener("blur", hideTip);
      point.addEventListener("click", function () { openMovie(movie.id); });
      point.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { openMovie(movie.id); }
      });
      points.set(String(movie.id), point);
      map.appendChild(point);
    });
    return map;
  }

  function showTip(movie, event) {
    tooltip.textContent = "";
    tooltip.appendChild(el("strong", {text: movie.title}));
    LABELS.forEach(function (label) {
      var line = label + ": " + fmt(movie[label + "_mean"]) + " \u00b1" +
                 fmt(movie[label + "_std"]);
      if (!missing(movie[label + "_low"])) {
        line += " [" + fmt(movie[label + "_low"]) + ", " + fmt(movie[label + "_high"]) + "]";
      }
      tooltip.appendChild(el("div", {text: line}));
    });
    tooltip.appendChild(el("div", {className: "muted", text: movie.n_tracks + " tracks"}));
    tooltip.style.left = (event.clientX + 12) + "px";
    tooltip.style.top = (event.clientY + 12) + "px";
    tooltip.style.display = "block";
  }
  function hideTip() { tooltip.style.display = "none"; }

  // ------------------------------------------------------------------------- movie page
  function openMovie(id) { location.hash = "movie=" + encodeURIComponent(id); }

  // "90% " for the intervals' nominal level, "" where the data does not say it.
  function levelText() {
    var level = data.intervals.level;
    return missing(level) ? "" : Math.round(level * 1000) / 10 + "% ";
  }

  function intervalText(low, high) {
    return missing(low) || missing(high) ? "" : " [" + fmt(low) + ", " + fmt(high) + "]";
  }

  function renderMovie(movie) {
    movieView.textContent = "";
    var id = String(movie.id);
    movieView.appendChild(el("p", {}, el("a", {href: "#", id: "back", text: "\u2190 All movies"})));
    var heading = el("h2", {id: "movie-title", text: movie.title});
    if (movie.demo) { heading.appendChild(el("span", {className: "demo-mark", text: "DEMO"})); }
    movieView.appendChild(heading);
    var facts = data.extras.filter(function (e) { return !missing(movie[e]); })
      .map(function (e) { return e + ": " + movie[e]; });
    facts.push(movie.n_tracks + " tracks, " + movie.n_scored + " scored, " + movie.n_failed +
               " unreadable, " + clock(movie.scored_s) + " of music");
    facts.push(missing(movie.n_ood) ? "out of domain: not checked"
                                    : movie.n_ood + " out of domain");
    movieView.appendChild(el("p", {className: "muted", text: facts.join(" \u00b7 ")}));
    var summary = el("table", {className: "summary", style: "width:auto"},
      el("thead", {}, el("tr", {}, el("th", {className: "text nosort", text: "label"}),
        el("th", {className: "nosort", text: "mean"}),
        el("th", {className: "nosort", text: "spread (std)"}),
        el("th", {className: "nosort",
                  text: data.intervals.movie ? levelText() + "interval" : ""}))));
    var summaryBody = el("tbody");
    LABELS.forEach(function (label) {
      summaryBody.appendChild(el("tr", {}, el("td", {className: "text", text: label}),
        el("td", {text: fmt(movie[label + "_mean"])}), el("td", {text: fmt(movie[label + "_std"])}),
        el("td", {text: intervalText(movie[label + "_low"], movie[label + "_high"])})));
    });
    summary.appendChild(summaryBody);
    movieView.appendChild(summary);
    var legend = el("p", {className: "legend"});
    LABELS.forEach(function (label) {
      legend.appendChild(el("span", {}, el("i", {style: "background:" + COLOURS[label]}), label));
    });
    legend.appendChild(el("span", {className: "muted",
      text: (data.intervals.track ? "shaded: each track's " + levelText() +
                                    "prediction interval (conformal); "
                                  : "one step per track, album time \u2192; ") +
            "! red: out of domain"}));
    movieView.appendChild(legend);
    movieView.appendChild(drawArc(id, 900, 240, {pad: 24, axes: true, bands: true, stroke: 2,
      className: "arc big-arc", empty: "No readable track: nothing to plot."}));
    movieView.appendChild(el("p", {className: "muted",
      text: "Model: " + (movie.model || "unknown") + " \u00b7 version: " +
            (movie.model_version || "unknown") + " \u00b7 trained on: " +
            (movie.trained_on || "unknown")}));
    movieView.appendChild(trackTable(id));
  }

  function trackTable(id) {
    var rows = records(data.track_columns, data.tracks[id] || []);
    var header = el("tr", {});
    ["#", "Track", "Duration"].concat(LABELS.map(function (l) {
      return l.charAt(0).toUpperCase() + l.slice(1);
    })).concat(["Status", "Out of domain"]).forEach(function (name, i) {
      header.appendChild(el("th", {className: "nosort" + (i === 1 || i > 5 ? " text" : ""),
                                   text: name}));
    });
    var tbody = el("tbody");
    rows.forEach(function (row) {
      var tr = el("tr", {"class": row.status === "error" ? "error" : ""});
      tr.appendChild(el("td", {text: String(row.position)}));
      tr.appendChild(el("td", {className: "text", text: row.track}));
      tr.appendChild(el("td", {text: clock(row.duration_s)}));
      LABELS.forEach(function (label) {
        var td = el("td", {text: fmt(row[label])});
        var band = intervalText(row[label + "_low"], row[label + "_high"]);
        if (band && row.out_of_domain === true) {
          // Calibrated on music like the training corpus: no coverage promised here.
          td.appendChild(el("div", {className: "ci ood", text: band + " !",
            title: "out of domain: its coverage holds for music like the training corpus"}));
        } else if (band) { td.appendChild(el("div", {className: "ci", text: band})); }
        tr.appendChild(td);
      });
      tr.appendChild(el("td", {className: "text" + (row.status === "error" ? " error" : ""),
        text: row.status + (row.error ? ": " + row.error : "")}));
      var ood = el("td", {className: "text"});
      if (row.out_of_domain === true) {
        ood.className = "text ood";
        ood.textContent = "! out of domain (" + fmt(row.domain_score) + "\u00d7 threshold)";
      } else if (row.out_of_domain === false) {
        ood.textContent = "no";
      } else {
        ood.className = "text muted";
        ood.textContent = row.status === "error" ? "" : "not checked";
      }
      tr.appendChild(ood);
      tbody.appendChild(tr);
    });
    return el("table", {id: "tracks"}, el("thead", {}, header), tbody);
  }

  // ------------------------------------------------------------------------------ route
  function route() {
    hideTip();
    var match = /^#movie=(.*)$/.exec(location.hash);
    var movie = match ? byId.get(decodeURIComponent(match[1])) : null;
    if (movie) {
      renderMovie(movie);
      listView.hidden = true;
      movieView.hidden = false;
      window.scrollTo(0, 0);
    } else {
      movieView.hidden = true;
      listView.hidden = false;
    }
  }

  var mapPane = el("div", {className: "map-pane"},
    el("h2", {text: "Valence \u2013 arousal"}), buildMap(),
    el("p", {className: "muted", text: "One point per movie at its duration-weighted mean; " +
             "darker = more dominant. Hover for values, click to open."}));
  var tablePane = el("div", {className: "table-pane"},
    el("div", {className: "controls"}, filterInput, count, prev, pageInfo, next), table);
  listView.appendChild(el("div", {className: "layout"}, tablePane, mapPane));
  app.textContent = "";
  app.appendChild(listView);
  app.appendChild(movieView);
  document.body.appendChild(tooltip);
  window.addEventListener("hashchange", route);
  refresh();
  route();
  document.body.setAttribute("data-ready", "true");
})();
"""
