// The due-date calculator: the business list follows the chosen region (each region offers its own).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-businesses]").forEach(function (regionSelect) {
    var form = regionSelect.form;
    var businessSelect = form && form.querySelector("select[name='business']");
    if (!businessSelect) { return; }
    var offers = JSON.parse(regionSelect.getAttribute("data-businesses"));
    var english = regionSelect.getAttribute("data-lang") === "en";
    regionSelect.addEventListener("change", function () {
      var kept = businessSelect.value;
      businessSelect.innerHTML = "";
      (offers[regionSelect.value] || []).forEach(function (offer) {
        var option = document.createElement("option");
        option.value = offer[0];
        option.textContent = english ? offer[2] : offer[1];
        option.selected = offer[0] === kept;
        businessSelect.appendChild(option);
      });
    });
  });
});
