// Tiny progressive enhancement: show the "other person" agent fields and the mail address only when chosen.
document.addEventListener("DOMContentLoaded", function () {
  function toggle(name, value, targetId) {
    var target = document.getElementById(targetId);
    if (!target) { return; }
    var inputs = document.querySelectorAll("input[name='" + name + "']");
    function update() {
      var chosen = document.querySelector("input[name='" + name + "']:checked");
      target.hidden = !(chosen && chosen.value.indexOf(value) === 0);
      // Hidden required fields would block the form in the browser: switch them off while hidden.
      target.querySelectorAll("input, select, textarea").forEach(function (f) { f.disabled = target.hidden; });
    }
    inputs.forEach(function (i) { i.addEventListener("change", update); });
    update();
  }
  toggle("agent", "other", "agent-other");
  toggle("method", "mail", "mail-to");
});
