// The live feed page: new verdicts from a same-origin EventSource (the session cookie is its
// credential), added at the top of the table the server rendered. The server applies the
// filters; rows are built with textContent only (no markup from the stream is ever parsed).
(function () {
  "use strict";
  var table = document.getElementById("feed");
  var status = document.getElementById("feed-status");
  if (!table || !table.dataset.stream || !window.EventSource) return;
  var body = table.tBodies[0];
  var KEEP = 200;
  var received = 0;

  function cell(row, text, cls) {
    var td = row.insertCell(-1);
    if (cls) {
      var span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function add(v) {
    var none = body.querySelector("tr.none");
    if (none) none.remove();
    var row = body.insertRow(0);
    row.dataset.event = v.event_id;
    row.className = "live";
    cell(row, new Date(v.judged_at).toISOString().slice(11, 19));
    cell(row, v.decision, "badge " + v.decision);
    var item = cell(row, "");
    var code = document.createElement("code");
    code.textContent = v.event_id;
    item.appendChild(code);
    var meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = " " + v.kind + " · " + v.source + " · " + v.lang;
    item.appendChild(meta);
    var who = cell(row, "");
    var link = document.createElement("a");
    link.href = "/console/authors/" + encodeURIComponent(v.author);
    link.textContent = v.author;
    who.appendChild(link);
    var labels = Object.keys(v.scores || {}).filter(function (k) { return v.scores[k] >= 0.5; });
    cell(row, labels.sort().join(" "));
    cell(row, Number(v.toxic).toFixed(2));
    cell(row, "");
    while (body.rows.length > KEEP) body.deleteRow(-1);
  }

  var source = new EventSource(table.dataset.stream);
  source.addEventListener("ready", function () {
    status.textContent = "Live: new verdicts appear at the top.";
  });
  source.addEventListener("verdict", function (ev) {
    add(JSON.parse(ev.data));
    received += 1;
    status.textContent = "Live: " + received + " new verdict" + (received === 1 ? "" : "s") + " since the page loaded.";
  });
  source.addEventListener("closed", function () {
    status.textContent = "The feed fell behind; reconnecting from where it stopped…";
  });
  source.onerror = function () {
    status.textContent = "Reconnecting to the live feed…";
  };
})();
