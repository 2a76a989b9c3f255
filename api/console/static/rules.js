// The rules editor: checks the text as it is typed (a debounced POST to the page's validate
// route, the API's own checker) and lists each problem with its line and column; a click on a
// problem puts the caret there. Nothing here decides anything: the server checks again on save.
(function () {
  "use strict";
  var source = document.getElementById("rules-source");
  if (!source) return;
  var status = document.getElementById("rules-status");
  var list = document.getElementById("rules-problems");
  var csrf = source.form.querySelector('input[name="csrf"]').value;
  var timer = null;
  var sent = 0;

  function offset(line, column) {
    var lines = source.value.split("\n");
    var at = 0;
    for (var i = 0; i < Math.min(line - 1, lines.length); i++) at += lines[i].length + 1;
    return at + Math.max(column - 1, 0);
  }

  function problem(p) {
    var li = document.createElement("li");
    var go = document.createElement("button");
    go.type = "button";
    go.className = "link";
    go.dataset.line = p.line;
    go.dataset.column = p.column;
    go.textContent = "line " + p.line + ", column " + p.column;
    li.appendChild(go);
    li.appendChild(document.createTextNode(": " + p.reason));
    return li;
  }

  function show(result) {
    list.textContent = "";
    if (result.valid) {
      var s = result.summary || { rules: [], counters: [] };
      status.className = "valid";
      status.textContent = "Valid: " + s.rules.length + " rule" + (s.rules.length === 1 ? "" : "s") +
        ", " + s.counters.length + " counter" + (s.counters.length === 1 ? "" : "s") + ".";
      source.removeAttribute("aria-invalid");
      return;
    }
    status.className = "invalid";
    status.textContent = result.problems.length + " problem" + (result.problems.length === 1 ? "" : "s") + ":";
    source.setAttribute("aria-invalid", "true");
    result.problems.forEach(function (p) { list.appendChild(problem(p)); });
  }

  function check() {
    var mine = ++sent;
    var body = new URLSearchParams({ csrf: csrf, source: source.value });
    fetch(source.dataset.validate, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("the check answered " + r.status);
        return r.json();
      })
      .then(function (result) { if (mine === sent) show(result); })
      .catch(function (err) {
        if (mine !== sent) return;
        status.className = "invalid";
        status.textContent = "Cannot check now (" + err.message + "); saving checks again.";
      });
  }

  source.addEventListener("input", function () {
    clearTimeout(timer);
    status.textContent = "Checking…";
    timer = setTimeout(check, 300);
  });

  list.addEventListener("click", function (ev) {
    var go = ev.target.closest("button[data-line]");
    if (!go) return;
    var at = offset(+go.dataset.line, +go.dataset.column);
    source.focus();
    source.setSelectionRange(at, at + 1);
  });

  if (source.value) check();
})();
