"""Messages of starting, resuming and running a training."""

from __future__ import annotations

from lora_for_dummies.messages.base import RESUME, START, TRAINING, Message

# -- Start training -------------------------------------------------------------------------
NO_BASE = Message(
    START, "choose a base model (press 🔄 if it is new)",
    "Step 1 (Base model) is empty, or names a file that is no longer in the list.",
    "Pick a checkpoint. Press 🔄 after copying a new one into the models folder.")
NO_IMAGES = Message(
    START, "choose your images (step 3)",
    "Step 3 names no dataset, so there is nothing to train.",
    "Pick a dataset in step 3 (make one in the Dataset tab first).")
NO_CONCEPTS = Message(
    START, "choose your images (step 3), or add a concept below",
    "Neither step 3 nor the Concepts table holds any images.",
    "Pick a dataset in step 3, or add a concept (an image folder) in the Concepts table.")
NOTHING_IMPORTED = Message(
    START, "{where} has no images yet: import some first (Dataset tab → New dataset and "
    "import: drop your pictures, then Import)",
    "The dataset exists but holds no pictures.",
    "Import your pictures in the Dataset tab, press Process, then choose the dataset again.")
NOT_PROCESSED = Message(
    START, "{where} has no processed images yet: press Process in the Dataset tab",
    "Your originals are imported, but training uses the cropped, resized copies, and there "
    "are none yet.", "Press Process in the Dataset tab, then choose the dataset again.")
# Asked for in step 3, with why: a new dataset has none, and a LoRA without one is hard to call.
TRIGGER_WHY = ("a trigger word is what you type in the prompt to call the LoRA: a rare, "
               "made-up word such as sks or ohwx")
NO_TRIGGER = Message(
    START, f"type a trigger word in step 3 — {TRIGGER_WHY}",
    "The dataset has no trigger word, so the LoRA would have no word to call it by.",
    "Type a rare, made-up word (sks, ohwx) in step 3's trigger word box.")
STEP3_MISMATCH = Message(
    START, "step 3 shows {dataset}, but the Concepts table holds the images of {held}: choose "
    "the dataset to train in step 3 (or Clear the table and add concepts by hand)",
    "Start trains what the form shows. The Concepts table still holds a dataset chosen "
    "earlier, and step 3 now shows another one (or none).",
    "Choose the dataset you mean in step 3, or Clear the Concepts table.")
STEP3_NOT_FILLED = Message(
    START, "step 3 shows {dataset}, but the Concepts table does not hold its images yet: "
    "choose {dataset} again in step 3 (that fills in the table and the settings for it)",
    "Step 3's dataset had nothing to train when you chose it (no images, or none processed); "
    "it has some now, but the table and the settings were not filled in for it.",
    "Choose the dataset again in step 3, then press Start training.")
NAME_CLASH = Message(
    START, "{files} already in {folder}: Resume to continue that run, choose another name, or "
    "allow overwriting (the tab's checkbox / --overwrite)",
    "A new run never replaces LoRA files it did not make, and a LoRA of this name is there.",
    "Press Resume to go on with that run, pick another name under Saving, or tick *Replace an "
    "existing LoRA of this name* (`--overwrite` on the command line).")
FOREIGN_STEP = Message(
    START, "{files} in {folder} was not written by run {name!r}, which would save a step under "
    "that name; move or rename that file, or choose another run name",
    "A file with the name of one of this run's step files is there, and another tool or run "
    "wrote it. It is never replaced, even with overwriting allowed.",
    "Move or rename that file, or choose another run name.")
FOLDER_NOT_WRITABLE = Message(
    START, "the {what} {folder} is not writable ({reason}); nothing was trained",
    "The Lora folder or the run folder cannot be written to. This is checked before any model "
    "loads.", "Fix the folder's permissions, or choose another folder (`--lora-dir`).")
NO_ROOM = Message(
    START, "{folder} has {free:.1f} MiB free but one save needs about {needed:.1f} MiB; free "
    "some space first",
    "The disk is too full for even one save, so training would fail at its first save.",
    "Free some space on that disk, or save to another one.")
CONCEPT_MISSING = Message(
    START, "concept folder {folder} does not exist",
    "A concept of the job names a folder that is not there (moved, renamed or deleted).",
    "Pick the dataset again in step 3, or fix the folder in the Concepts table.")
CONCEPT_EMPTY = Message(
    START, "concept folder {folder} has no images",
    "A concept's folder holds no pictures.",
    "Press Process in the Dataset tab, or remove that concept.")
BAD_IMAGE = Message(
    START, "{file} in {folder} is not a readable image ({reason}); remove or replace it (the "
    "Dataset tab's pre-flight check lists every such file)",
    "A picture in the training folder is broken or is not a picture.",
    "Run the Dataset tab's pre-flight check, then remove or replace the files it lists.")
PREDICTION_UNKNOWN = Message(
    START, "{file}: SD 2.x prediction type unknown — set model.v_prediction (true for 768-v "
    "models, false for 512 base)",
    "SD 2.x 768 models use v-prediction, 512 ones do not, and this file does not say which "
    "it is (no metadata, no `.yaml` beside it).",
    "Set *v-prediction* in the Train tab (yes for 768-v models, no for 512 ones), or "
    "`model.v_prediction` in a job file.")
ZTSNR_NEEDS_V = Message(
    START, "{file}: zero terminal SNR needs v-prediction (at the last step no signal is left, "
    "so ε cannot be learned there): set v-prediction to yes, or zero terminal SNR to no",
    "The model claims zero terminal SNR but predicts ε, which cannot be learned where no "
    "signal is left.",
    "Check the Models tab (it says where the claim came from), then override one of the two "
    "in the Train tab, or with `lfd inspect --zero-terminal-snr no`.")
NOT_A_NUMBER = Message(
    START, "{field} = {value!r}: expected a number ({allowed})",
    "A setting holds text where a number belongs.", "Type a number in the range shown.")
NOT_WHOLE = Message(
    START, "{field} = {value!r}: expected a whole number ({allowed})",
    "A setting that counts something (steps, batch size, rank) holds a fraction.",
    "Type a whole number in the range shown.")
NOT_FINITE = Message(
    START, "{field} = {value!r}: must be a finite number ({allowed})",
    "A setting holds infinity or NaN.", "Type a number in the range shown.")
OUT_OF_RANGE = Message(
    START, "{field} = {value!r} is out of range: {allowed}",
    "Every numeric setting has one allowed range, checked wherever a job is built (tabs, "
    "command line, API).", "Use a value in the range the line names.")
TRAINING_RUNNING = Message(
    START, "a training run is already going; stop it first",
    "The Train tab runs one training at a time.", "Wait for it to end, or press Stop.")
JOB_BUSY = Message(
    START, "{running} is still running; wait for it or stop it first",
    "One job runs at a time, shared by every tab and the job API.",
    "Wait for the running job to end, or stop it.")

# -- Resume ---------------------------------------------------------------------------------
NOTHING_TO_RESUME = Message(
    RESUME, "{name} has no saved step to resume (it stopped before its first step, or never "
    "ran): press Start training to begin it",
    "The run never trained a step, so there is nothing to go on from.",
    "Press Start training instead.")
API_NOTHING_TO_RESUME = Message(
    RESUME, "nothing to resume: run {name!r} has no saved state",
    "The job API was asked to resume a run that has no saved training state.",
    "Start it as a new run (`\"resume\": false`).", before="400 · ")
RESUME_CHANGED = Message(
    RESUME, "cannot resume: these settings differ from the run's config.toml and would train "
    "another LoRA: {changes}. Change them back, or start a new run under another name",
    "Resuming may change how long the run goes on, how often it saves and samples, and "
    "settings of speed or memory. Anything else (base model, network, resolution, seed, "
    "optimizer, data, …) would make another LoRA under the old name. The line names each "
    "setting with both values.",
    "Put the old values back (Load settings from this run does it), or start a new run under "
    "another name.")
RESUME_OTHER_BASE = Message(
    RESUME, "cannot resume: the run was trained on a base with sha256 {trained}…, but {file} is "
    "{sha}…; choose the original base model or start a new run",
    "The base model's contents differ from the one the run started on (a moved or renamed "
    "file is fine; another file is not).",
    "Choose the original base model, or start a new run.")
RESUME_OTHER_NETWORK = Message(
    RESUME, "cannot resume: the saved state holds another network (kind of LoRA, rank or layers "
    "changed since it was saved); start a new run instead",
    "The run's saved state does not fit the network these settings build, so nothing of it "
    "could be loaded (a state written by another version, or a changed config.toml).",
    "Start a new run (under another name, or with Replace ticked).")

# -- While training -------------------------------------------------------------------------
OUT_OF_MEMORY = Message(
    TRAINING, "out of GPU memory: lower the batch size or resolution, turn on gradient "
    "checkpointing, use fp16/bf16, cache latents, or don't train the text encoder",
    "The GPU ran out of memory. Training stopped; the saves made so far are kept.",
    "Change one of the settings the line names, or let the Performance Wizard choose (Train "
    "tab, *Performance Wizard and GPUs*). For SDXL, see the tiers in "
    "[training.md](training.md#sdxl-8-12-16-and-24-gb).", before="stopped at step <n>: ")
NAN_LOSS = Message(
    TRAINING, "the loss became NaN/inf: lower the learning rate, use bf16 or fp32, or check "
    "the base model (a broken VAE gives NaN latents)",
    "The training diverged. Training stopped; the last good save is kept.",
    "Lower the learning rate, or train in bf16 or fp32. If it happens at step 0, the base "
    "model's VAE is broken: try another base.", before="stopped at step <n>: ")
SLOW_RUN = Message(
    TRAINING, "at {pace:.1f} s a step the remaining {steps} steps take about {left}: {advice}",
    "After three steps, the rest of the run would take more than two hours at the measured "
    "pace. The line ends with the change that helps most.",
    "Follow the advice, or Stop. Without a GPU, training a real model takes seconds to minutes "
    "per step ([performance.md](performance.md)): use the CPU to try the flow, train on a GPU. "
    "On Windows, check that you installed a CUDA build of torch (see the README).")
