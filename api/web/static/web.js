// Progressive enhancement only: every form works without this script.
// The reason field of a decision shows when it is needed: for the evaluation, when the choice
// departs from the system's recommendation; for any task, once the case has asked for a
// reason (or one was written). Otherwise it stays out of the way.
(function () {
  "use strict";
  function chosen(form, name) {
    var input = form.querySelector('input[name="' + name + '"]:checked');
    return input ? input.value : null;
  }
  function setUp(form) {
    var reason = form.querySelector("[data-reason]");
    if (!reason) { return; }
    var route = form.getAttribute("data-recommend-route");
    function departs() {
      if (!route) { return false; }
      var pairs = [["route", route],
                   ["underretning", form.getAttribute("data-recommend-underretning")],
                   ["ssp", form.getAttribute("data-recommend-ssp")]];
      return pairs.some(function (pair) {
        var value = chosen(form, pair[0]);
        return value !== null && value !== pair[1];
      });
    }
    function update() {
      reason.hidden = !(reason.hasAttribute("data-reason-needed") || departs());
    }
    form.addEventListener("change", update);
    update();
  }
  document.querySelectorAll("form.decision").forEach(setUp);
  // After a refusal, focus goes to what was refused: the summary, or the refused field of a
  // small form (which has no summary of its own).
  var summary = document.querySelector(".error-summary");
  var refused = document.querySelector("[aria-invalid=true]");
  if (summary) { summary.focus(); } else if (refused) { refused.focus(); }
})();
