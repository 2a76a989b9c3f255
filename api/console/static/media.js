// An item's image or video stays blurred and grey (reviewer wellness) until its button is
// pressed; pressing it again veils it again. The button is a real <button>: Tab, Enter, Space.
(function () {
  "use strict";
  document.querySelectorAll("button[data-unveil]").forEach(function (button) {
    var figure = document.getElementById(button.getAttribute("aria-controls"));
    if (!figure) return;
    button.addEventListener("click", function () {
      var veiled = figure.classList.toggle("veiled");
      button.setAttribute("aria-pressed", veiled ? "false" : "true");
      button.textContent = veiled ? "Show the media" : "Veil the media again";
    });
  });
})();
