// LoRA for Dummies — client helpers. Only what gradio cannot do, and nothing that depends on
// gradio's DOM structure. Later releases add a task id for the webui's progress bar here.
(function () {
    "use strict";
    window.lfdVersion = "0.1.0";
})();
