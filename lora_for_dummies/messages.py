"""The lines a user reads when something is refused or goes wrong: their one home.

Each entry is the line the app prints (a `str.format` template), what it means and what to do.
The code builds its line from here (`msg.NAN_LOSS.text`, `msg.NAME_EMPTY.format(what=…)`), and
docs/troubleshooting.md's list of messages is written from here by
`python -m lora_for_dummies.docs_gen troubleshooting`, so the page cannot drift from what the app
says. tests/test_docs.py fails when the page differs from the generator's, or when an entry is
used nowhere in the code. Import it as `from lora_for_dummies import messages as msg`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from lora_for_dummies.errors import UserError

START, RESUME, TRAINING, NAMES, FILES, MODELS, FAMILIES, KINDS, API = (
    "Start training is refused", "Resume is refused", "While training", "A name is refused",
    "Writing files", "A model file is refused", "A model family is not offered or incomplete",
    "A kind of LoRA is refused", "The job API")


@dataclass(frozen=True)
class Message:
    topic: str
    text: str  # the line, `{field}`s filled in by `format`
    means: str
    todo: str
    # What the app puts before the line (a file name, an HTTP status), shown on the page only.
    before: str = ""

    def format(self, **fields: object) -> str:
        return self.text.format(**fields)

    def error(self, **fields: object) -> UserError:
        return UserError(self.format(**fields))

    def shown(self) -> str:
        """The line as the page shows it: each `{field}` as `<field>`."""
        parts = []
        for literal, field, _, conversion in string.Formatter().parse(self.text):
            shown = "" if field is None else f"'<{field}>'" if conversion == "r" else f"<{field}>"
            parts.append(literal + shown)
        return self.before + "".join(parts)


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

# -- Names ----------------------------------------------------------------------------------
NAME_NOT_TEXT = Message(
    NAMES, "the {what} must be text, not {kind}",
    "A job file or API request gave a name as a number, a list or similar.",
    "Give the name as a string.")
NAME_EMPTY = Message(
    NAMES, "the {what} is empty", "A dataset, concept, run or LoRA needs a name.",
    "Type a name.")
NAME_BAD_CHARS = Message(
    NAMES, "the {what} {name!r} may not contain path separators, '..' or any of <>:\"|?*",
    "Names are names, never paths, and must be valid on Windows too.",
    "Remove the characters the line names (`my dog v2` is fine).")
NAME_RESERVED = Message(
    NAMES, "the {what} {name!r} is not a valid folder name on Windows ({stem} is a reserved "
    "device name)", "Windows refuses CON, NUL, COM1, LPT1 and the like as a file or folder "
    "name, with any extension.", "Choose another name (`con_art` is fine, `con` is not).")
NAME_WINDOWS = Message(
    NAMES, "the {what} {name!r} is not a valid folder name on Windows",
    "Windows refuses a name that ends with a dot or a space.",
    "Remove the trailing dot or space.")
NAME_TEMP = Message(
    NAMES, "the {what} {name!r} may not start with {prefix} (kept for unfinished files)",
    "Names starting with `.lfd-` mark unfinished files, which are cleaned up.",
    "Choose a name that does not start with `.lfd-`.")
NAME_TOO_LONG = Message(
    NAMES, "the {what} is longer than {limit} characters", "Names are at most 100 characters.",
    "Shorten the name.")
NAME_TOO_MANY_BYTES = Message(
    NAMES, "the {what} is too long: its longest file, {file}, would be {size} bytes and file "
    "systems allow {limit} (letters outside ASCII take 2 to 4 bytes each); shorten it by "
    "{over} bytes", "The longest file the name becomes (a step file, its temporary name) would "
    "be longer than file systems allow.", "Shorten the name by the bytes the line says.")

# -- Writing files (an operating-system error: `<action> <path>: <reason>`) ----------------
_OS = "cannot write <path>: "
DISK_FULL = Message(
    FILES, "no space left on the disk: free some space and try again",
    "The disk filled up while writing. The file being written was removed; the old one, if "
    "any, is unchanged.", "Free some space (old step files in the Lora folder are large) and "
    "try again.", before=_OS)
QUOTA_FULL = Message(
    FILES, "the disk quota is used up: free some space and try again",
    "Your share of the disk is used up.", "Free some space and try again.", before=_OS)
READ_ONLY = Message(
    FILES, "the folder is on a read-only file system: choose a writable folder",
    "The folder is on a disk mounted read-only (a CD, a protected share).",
    "Choose a folder on a writable disk.", before=_OS)
PERMISSION_DENIED = Message(
    FILES, "permission denied: choose a folder you may write to, or fix its permissions",
    "Your user may not write into that folder.",
    "Choose a folder you own, or fix its permissions.", before=_OS)
NOT_PERMITTED = Message(
    FILES, "operation not permitted: choose a folder you may write to",
    "The operating system refused the change (a locked file, a protected folder).",
    "Choose a folder you may write to.", before=_OS)
FILE_NAME_TOO_LONG = Message(
    FILES, "the file name is too long for the file system: choose a shorter name",
    "The file system cannot hold a name this long.", "Choose a shorter name.", before=_OS)
PATH_MISSING = Message(
    FILES, "it does not exist", "A folder on the way to the file is not there.",
    "Check the path, or create the folder.", before=_OS)
PATH_IS_FOLDER = Message(
    FILES, "it is a folder, not a file", "A folder stands where the file should be.",
    "Move the folder away, or choose another name.", before=_OS)
TOO_MANY_FILES = Message(
    FILES, "too many open files: close other programs and try again",
    "The process may not open more files.", "Close other programs and try again.", before=_OS)

# -- Model files (`<file>: <reason>`) --------------------------------------------------------
_FILE = "<file>: "
MODEL_NOT_FOUND = Message(
    MODELS, "file not found", "The model file named is not there (moved, renamed, deleted).",
    "Press 🔄 next to the model list and pick it again.", before=_FILE)
MODEL_IS_FOLDER = Message(
    MODELS, "is a folder, not a model file", "A folder was given where a model file belongs "
    "(a diffusers folder, for example).", "Use a single-file checkpoint (`.safetensors`).",
    before=_FILE)
MODEL_EMPTY = Message(
    MODELS, "file is empty (0 bytes); the download or copy did not finish",
    "The file has no contents.", "Download or copy it again.", before=_FILE)
NOT_A_MODEL = Message(
    MODELS, "this is {what}",
    "The file is not a model, whatever its name says: the first bytes tell what it is (a "
    "JPEG image, a web page saved instead of a download, a Git LFS pointer, a zip to unpack, "
    "…).", "Use the model file itself (`git lfs pull` for a pointer, unpack a zip).",
    before=_FILE)
MODEL_TRUNCATED = Message(
    MODELS, "file is truncated: tensor {key!r} ends past the end of the file; download it again",
    "The download or copy stopped before the end.", "Download it again.", before=_FILE)
PICKLE_REFUSED = Message(
    MODELS, "refused: it holds Python objects besides tensors{named}, and loading them could "
    "run code, so it was not loaded. Use a .safetensors file instead, or convert it with a "
    "tool you trust",
    "A `.ckpt` is a pickle, which can run code. It is only loaded with "
    "`torch.load(weights_only=True)`: a pickle that needs anything but tensors is refused, so "
    "no code in it runs.", "Use a `.safetensors` version of the model.", before=_FILE)
WEBUI_UNPICKLER = Message(
    MODELS, "refused by the webui's safe unpickler (it holds more than tensors); see the "
    "console for the webui's reason",
    "Inside the webui, its own safe unpickler refused the `.ckpt`.",
    "Use a `.safetensors` version of the model.", before=_FILE)
IS_LORA = Message(
    MODELS, "this is a LoRA, not a base model: put it in the Lora folder and use it in a prompt "
    "as <lora:name:1>", "A LoRA was chosen where a base checkpoint belongs.",
    "Put it in the Lora folder; pick a full checkpoint as the base.", before=_FILE)
IS_REFINER = Message(
    MODELS, "this is an SDXL refiner; LoRAs are trained on the SDXL base model, not on the "
    "refiner", "The SDXL refiner is not a base for LoRAs.",
    "Pick an SDXL base model (or a model made from one).", before=_FILE)
IS_VAE = Message(
    MODELS, "this is a VAE, not a full checkpoint", "The file holds only a VAE.",
    "Pick a full checkpoint; a VAE goes into the webui's VAE folder.", before=_FILE)
IS_EMBEDDING = Message(
    MODELS, "this is a textual-inversion embedding, not a model",
    "The file is an embedding (used in prompts by its name).",
    "Put it in the webui's `embeddings` folder; pick a full checkpoint as the base.",
    before=_FILE)
UNKNOWN_ARCHITECTURE = Message(
    MODELS, "unknown architecture: not a {families} model ({count} tensors, e.g. {example!r})",
    "The file holds tensors, but not those of a model family this version reads.",
    "Pick a checkpoint of one of the families named (SD 1.x, SD 2.x, SDXL, or a Flux.1 "
    "transformer).", before=_FILE)
NO_TEXT_ENCODER = Message(
    MODELS, "has a UNet but no text encoder that matches SD 1.x, 2.x or SDXL; it cannot be "
    "trained or extracted as a full model",
    "The file is a UNet alone, or its text encoder is of an unknown kind.",
    "Use the full checkpoint that has the text encoder in it.", before=_FILE)

# -- Model families on this host; Flux's separate parts -------------------------------------
SD2_ON_FORGE_NEO = Message(
    FAMILIES, "Forge Neo cannot run SD 2.x models, so they are not offered here; the command "
    "line still extracts and converts SD 2.x files", "Forge Neo removed SD 2.x.",
    "Train SD 2.x in A1111, Forge or the standalone app.")
FLUX_NEEDS_FORGE_NEO = Message(
    FAMILIES, "Flux needs Forge Neo (A1111 cannot run Flux models); on this host, inspect and "
    "extract Flux files from the command line (lfd inspect / lfd extract)",
    "A1111 and Forge classic do not run Flux, so their tabs leave it out.",
    "Train Flux in Forge Neo or the standalone app (`lfd serve`).")
FLUX_PARTS_MISSING = Message(
    FAMILIES, "Flux needs {parts} beside the transformer (or in models/text_encoder and "
    "models/VAE), or name each in the job's [model] table (text_encoder, text_encoder_2, vae)",
    "A Flux transformer trains with its CLIP-L, T5-XXL and VAE files, which were not found.",
    "Put clip_l, t5xxl_fp16 (or _fp8_e4m3fn) and ae.safetensors where Forge Neo keeps them.")
FLUX_T5_TOKENIZER = Message(
    FAMILIES, "Flux needs T5's tokenizer: name a folder with tokenizer.json or spiece.model (for "
    "example a diffusers FLUX.1 folder's tokenizer_2, or Forge's backend/huggingface/"
    "black-forest-labs/FLUX.1-dev/tokenizer_2) as the job's model.tokenizer_2 ({why})",
    "T5's tokenizer is not inside the model files.",
    "In Forge Neo it is found by itself; elsewhere put a tokenizer_2 folder beside the model.")

# -- Kinds of LoRA (DoRA, LoHa, LoKr, full) --------------------------------------------------
FLUX_LORA_ONLY = Message(
    KINDS, "Flux trains the lora kind only here, not {kind}: set network.kind = \"lora\"",
    "Flux's fused attention ties the q, k and v LoRAs together; the other kinds have no such "
    "tie yet.", "Choose Kind of LoRA: lora (Network section).")
LYCORIS_NOT_HANDLED = Message(
    KINDS, "{file} holds {kinds} modules (LyCORIS); this works on LoRA and LoCon files only "
    "(lfd lora-info describes it)",
    "Resize, merge and convert re-factor a LoRA's up and down weights; a LoHa, LoKr, DoRA or "
    "full file has none. It loads in the webuis and ComfyUI as it is.",
    "Use it as it is; rescale works on it (all but DoRA).")
DORA_NOT_RESCALABLE = Message(
    KINDS, "{kind} modules cannot be rescaled: their change is renormalised, not proportional "
    "to the strength; lower the strength in the prompt instead (e.g. <lora:name:0.6>)",
    "A DoRA module rescales the changed weight to a learned magnitude, so no file is the same "
    "LoRA at another strength.", "Set the strength in the prompt: <lora:name:0.6>.")
DORA_NEEDS_WEIGHT = Message(
    KINDS, "a DoRA module's change depends on the layer's own weight",
    "A DoRA change was asked for without the base model's layer it applies to.",
    "Apply it to a loaded base model (the webui, ComfyUI, or this app's previews do).")

# -- The job API (`{"detail": "<line>"}` with the status) ----------------------------------
API_HOST_REFUSED = Message(
    API, "requests for host {host} are refused on this local server; open it as localhost or "
    "127.0.0.1, or add the name to LFD_ALLOWED_HOSTS",
    "The server listens on this computer only, and the request named another host (what a "
    "DNS-rebinding page does).", "Open it as localhost or 127.0.0.1. Behind a reverse proxy, "
    "add its host name to `LFD_ALLOWED_HOSTS` (comma-separated).", before="403 · ")
API_ORIGIN_REFUSED = Message(
    API, "requests from another origin ({origin}) are refused; only pages of {host} may use "
    "this server", "A page of another web site tried to use the server.",
    "Use the app's own page, or call the API from a script (no Origin header). Details: "
    "[safety.md](safety.md).", before="403 · ")
API_TOO_LARGE = Message(
    API, "the body is larger than {limit} bytes", "The request body is over 1 MiB.",
    "Send the job alone; a train job is a few kilobytes.", before="413 · ")
API_NOT_JSON = Message(
    API, "send the job as JSON (Content-Type: application/json), not {kind}",
    "The body was sent as a form or plain text.",
    "Send `Content-Type: application/json` ([reference.md](reference.md#job-api)).",
    before="415 · ")
API_BAD_JSON = Message(
    API, "the body must be JSON", "The body does not parse as JSON.",
    "Check the JSON (quotes, commas).", before="400 · ")
API_NOT_OBJECT = Message(
    API, "the body must be a JSON object", "The body is JSON, but a list or a value, not an "
    "object.", "Send one object: `{\"kind\": \"train\", …}`.", before="400 · ")
API_BUSY = Message(
    API, "{running} is still running", "One job runs at a time, shared by the tabs and the "
    "API.", "Wait for the running job, or stop it.", before="409 · ")
API_NO_JOB = Message(
    API, "no job {job_id}", "No job of this id since the server started (ids do not survive "
    "a restart).", "List the jobs with `GET /lfd/v1/jobs`.", before="404 · ")
API_INTERNAL = Message(
    API, "internal error {error_id} ({kind}); the server log has the details under this id",
    "A bug: the request was fine, the server failed.",
    "The server log shows the traceback beside the same id; please report it with that "
    "traceback.", before="500 · ")


def catalogue() -> list[tuple[str, Message]]:
    """Every entry, in the order above, with its name."""
    return [(name, value) for name, value in globals().items() if isinstance(value, Message)]


def markdown() -> str:
    """docs/troubleshooting.md's list of messages, grouped by topic."""
    out: list[str] = []
    topic = ""
    for _, entry in catalogue():
        if entry.topic != topic:
            topic = entry.topic
            out += [f"### {topic}", ""]
        line = entry.shown().replace("`", "'")
        out += [f"**`{line}`**  ", f"{entry.means} **What to do:** {entry.todo}", ""]
    return "\n".join(out).rstrip() + "\n"
