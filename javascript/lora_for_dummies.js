// LoRA for Dummies — client helpers. Only what gradio cannot do: give a training run a task id
// so the webui's own progress bar (progressbar.js: randomId, requestProgress) follows it. No
// code here depends on gradio's DOM structure; the bar goes above our own element id.
(function () {
    "use strict";
    window.lfdVersion = "0.2.0";
})();

// Called by the Start and Resume buttons with their inputs; the first input is the task id.
// Outside the webui (no progressbar.js) the arguments pass through unchanged.
function lfd_start_training() {
    var args = Array.prototype.slice.call(arguments);
    if (typeof randomId !== "function" || typeof requestProgress !== "function") {
        return args;
    }
    var id = randomId();
    var anchor = gradioApp().getElementById("lfd_train_progressbar");
    if (anchor) {
        requestProgress(id, anchor, null, function () {});
    }
    args[0] = id;
    return args;
}
