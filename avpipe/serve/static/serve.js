/* avpipe serve: the pages' behaviour. Every text from a result is set as textContent (never as
   HTML); times travel in data- attributes. No framework, no build step. */
(function () {
  "use strict";

  function clock(t) {
    var s = Math.max(0, Math.floor(t)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)), ss = String(s).padStart(2, "0");
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  /* Seek a player to t (seconds) and play; waits for the metadata when it has none yet. */
  function playAt(video, t) {
    function go() {
      try { video.currentTime = t; } catch (e) { /* not seekable yet */ }
      var p = video.play();
      if (p && p.catch) { p.catch(function () { /* autoplay refused: the position stays */ }); }
    }
    if (video.readyState >= 1) { go(); } else { video.addEventListener("loadedmetadata", go, {once: true}); }
  }

  // ------------------------------------------------------------------ library: filter and sort
  var filter = document.getElementById("filter"), sort = document.getElementById("sort");
  var table = document.getElementById("videos");
  if (table && filter && sort) {
    var body = table.tBodies[0];
    var apply = function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var rows = Array.prototype.slice.call(body.querySelectorAll("tr.video"));
      rows.forEach(function (r) {
        r.hidden = !words.every(function (w) { return r.dataset.text.indexOf(w) >= 0; });
      });
      var key = sort.value, numeric = key === "duration" || key === "speakers";
      rows.sort(function (a, b) {
        var x = a.dataset[key], y = b.dataset[key];
        if (numeric) { return parseFloat(y) - parseFloat(x) || a.dataset.name.localeCompare(b.dataset.name); }
        return x.localeCompare(y) || a.dataset.name.localeCompare(b.dataset.name);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    };
    apply();
    filter.addEventListener("input", apply);
    sort.addEventListener("change", apply);
    document.getElementById("library-tools").addEventListener("submit", function (ev) { ev.preventDefault(); });
  }

  // ------------------------------------------------------------------ video page
  var timeline = document.getElementById("timeline");
  var video = document.getElementById("video");
  if (video) {
    video.addEventListener("error", function () {
      var p = el("p", "errors", "This browser cannot play the original file (its format or codec); everything else is below.");
      p.id = "media-problem";
      video.parentNode.insertBefore(p, video.nextSibling);
    });
  }
  if (timeline) {
    var duration = parseFloat(timeline.dataset.duration) || 0;
    // the marks' places: the page's style attributes are not applied here (no inline style under
    // this app's Content-Security-Policy), so they are set from their data- attributes
    Array.prototype.forEach.call(timeline.querySelectorAll(".mark[data-left]"), function (m) {
      m.style.left = m.dataset.left + "%";
      m.style.width = m.dataset.width + "%";
    });
    var cursor = el("div", "cursor");
    timeline.appendChild(cursor);
    var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript p[data-t]"));
    var current = null;
    var show = function (t) {
      var track = timeline.querySelector(".track");
      if (track && duration > 0) {
        cursor.style.left = (track.offsetLeft + track.offsetWidth * Math.min(1, t / duration)) + "px";
      }
      var now = null;
      lines.forEach(function (p) {
        if (t >= parseFloat(p.dataset.t) && t < parseFloat(p.dataset.end)) { now = p; }
      });
      if (now !== current) {
        if (current) { current.classList.remove("now"); }
        if (now) { now.classList.add("now"); now.scrollIntoView({block: "nearest"}); }
        current = now;
      }
    };
    document.addEventListener("click", function (ev) {
      var target = ev.target.closest("[data-t]");
      if (!target || target.tagName === "VIDEO") { return; }
      var t = parseFloat(target.dataset.t);
      if (video) { playAt(video, t); }
      show(t);
    });
    if (video) {
      video.addEventListener("timeupdate", function () { show(video.currentTime); });
      var m = /[#&]t=([0-9.]+)/.exec(location.hash);
      if (m) { playAt(video, parseFloat(m[1])); show(parseFloat(m[1])); } else { show(0); }
    } else { show(0); }
  }

  // ------------------------------------------------------------------ search page
  var form = document.getElementById("search-form");
  if (form) {
    var status = document.getElementById("status"), hits = document.getElementById("hits");
    var player = document.getElementById("player"), box = document.getElementById("player-box");

    var say = function (text, bad) { status.textContent = text; status.className = bad ? "errors" : ""; };
    player.addEventListener("error", function () {
      if (player.getAttribute("src")) { say("this browser cannot play " + document.getElementById("playing").textContent +
                                            " (its format or codec); the video's page has everything else", true); }
    });

    var open = function (m, row) {
      Array.prototype.forEach.call(hits.querySelectorAll(".moment.now"), function (r) { r.classList.remove("now"); });
      row.classList.add("now");
      box.hidden = false;
      document.getElementById("playing").textContent = m.name + " at " + clock(m.start);
      document.getElementById("open-page").href = m.page;
      player.dataset.start = String(m.start);
      if (!m.media) {  // the original moved: say so, the results stay
        player.removeAttribute("src");
        player.hidden = true;
        say(m.media_problem || "this video's original file cannot be played", true);
        return;
      }
      player.hidden = false;
      if (player.getAttribute("src") !== m.media) {
        player.setAttribute("src", m.media);
        player.load();
      }
      playAt(player, m.start);
    };

    var draw = function (data, what) {
      hits.textContent = "";
      var moments = data.moments || [];
      say(moments.length ? moments.length + " moments for " + what : "nothing found for " + what);
      var groups = {}, order = [];
      moments.forEach(function (m) {
        if (!groups[m.video_id]) { groups[m.video_id] = []; order.push(m.video_id); }
        groups[m.video_id].push(m);
      });
      order.forEach(function (vid) {
        var group = el("div", "group");
        var title = el("h3");
        var link = el("a", null, groups[vid][0].name);
        link.href = "/videos/" + encodeURIComponent(vid);
        title.appendChild(link);
        group.appendChild(title);
        groups[vid].forEach(function (m) {
          var row = el("div", "moment");
          row.dataset.videoId = m.video_id;
          row.dataset.start = String(m.start);
          row.tabIndex = 0;
          if (m.thumbnail) { var img = el("img"); img.alt = ""; img.src = m.thumbnail; row.appendChild(img); }
          var text = el("div");
          text.appendChild(el("span", "when", clock(m.start) + "–" + clock(m.end)));
          text.appendChild(el("span", "score", m.modality + " · " + m.score.toFixed(3)));
          (m.text || []).forEach(function (t) { text.appendChild(el("div", "said", t)); });
          row.appendChild(text);
          row.addEventListener("click", function () { open(m, row); });
          row.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { open(m, row); } });
          group.appendChild(row);
        });
        hits.appendChild(group);
      });
    };

    var ask = function (request, what) {
      say("searching…");
      fetch(request.url, request.init).then(function (r) {
        return r.json().then(function (data) {
          if (!r.ok) { throw new Error(data.detail || ("HTTP " + r.status)); }
          return data;
        });
      }).then(function (data) { draw(data, what); }, function (err) { hits.textContent = ""; say(String(err.message || err), true); });
    };

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var q = document.getElementById("q").value.trim();
      if (!q) { say("type what to look for", true); return; }
      var params = new URLSearchParams({q: q, k: "10", modality: document.getElementById("modality").value});
      history.replaceState(null, "", "/search?q=" + encodeURIComponent(q));
      ask({url: "/api/search?" + params.toString(), init: {}}, "“" + q + "”");
    });
    document.getElementById("image").addEventListener("change", function (ev) {
      var file = ev.target.files[0];
      if (!file) { return; }
      ask({url: "/api/search/image?k=10", init: {method: "POST", body: file,
           headers: {"Content-Type": file.type || "application/octet-stream"}}}, "the image " + file.name);
    });
    if (document.getElementById("q").value.trim()) { form.requestSubmit(); }
  }
})();
