// Keyboard for the queue page: j/k select the next/previous item, o (or Enter) opens it,
// c claims it, u releases it, a/r/e start approve/remove/escalate (the reason picker takes
// focus; Enter confirms, Escape cancels), n claims the next item of the queue.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
  var current = -1;
  var pending = null;

  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) {
      r.classList.toggle("selected", k === current);
      r.setAttribute("aria-selected", k === current ? "true" : "false");
    });
    rows[current].focus({ preventScroll: false });
  }

  function button(key) {
    var scope = current >= 0 ? rows[current] : document;
    return scope.querySelector('button[data-key="' + key + '"]');
  }

  function cancel() {
    if (!pending) return;
    pending.classList.remove("pending");
    pending = null;
  }

  function start(btn) {
    cancel();
    var form = btn.form;
    var reason = form.querySelector("select.reason");
    if (btn.dataset.reason) reason.value = btn.dataset.reason;
    pending = btn;
    btn.classList.add("pending");
    reason.focus();
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var typing = /^(INPUT|TEXTAREA)$/.test(ev.target.tagName);
    if (pending && ev.key === "Escape") { cancel(); if (current >= 0) rows[current].focus(); ev.preventDefault(); return; }
    if (pending && ev.key === "Enter" && ev.target.form === pending.form) {
      ev.preventDefault();
      pending.form.requestSubmit(pending);
      return;
    }
    if (typing || ev.target.tagName === "SELECT") return;
    var key = ev.key;
    if (key === "j") { select(current + 1); ev.preventDefault(); }
    else if (key === "k") { select(current - 1); ev.preventDefault(); }
    else if ((key === "o" || key === "Enter") && current >= 0 && ev.target === rows[current]) {
      window.location.href = rows[current].dataset.href; ev.preventDefault();
    }
    else if (key === "a" || key === "r" || key === "e") {
      var b = button(key); if (b) { start(b); ev.preventDefault(); }
    }
    else if (key === "c" || key === "u" || key === "n") {
      var c = key === "n" ? document.querySelector('button[data-key="n"]') : button(key);
      if (c) { c.click(); ev.preventDefault(); }
    }
  });

  // A click without the keyboard: an untouched reason picker takes the action's usual reason.
  document.querySelectorAll("form.decide").forEach(function (form) {
    var reason = form.querySelector("select.reason");
    reason.addEventListener("change", function () { reason.dataset.touched = "1"; });
    form.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-reason]");
      if (b && !reason.dataset.touched && b !== pending) reason.value = b.dataset.reason;
    });
  });

  // Land on the item just claimed (the page's #item-N), or the first.
  var target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (rows.length) select(target ? rows.indexOf(target) : 0);
})();
