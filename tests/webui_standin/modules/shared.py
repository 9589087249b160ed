"""modules/shared.py (v1.10.1): opts, OptionInfo, cmd_opts. `reset` is stand-in only."""

import argparse
from pathlib import Path


class OptionInfo:
    """modules/options.py OptionInfo(default=None, label="", component=None,
    component_args=None, onchange=None, section=None, refresh=None, comment_before='',
    comment_after='', infotext=None, restrict_api=False, category_id=None)."""

    def __init__(self, default=None, label="", component=None, component_args=None,
                 onchange=None, section=None, refresh=None, comment_before="", comment_after="",
                 infotext=None, restrict_api=False, category_id=None):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.onchange = onchange
        self.section = section
        self.refresh = refresh


class Options:
    """modules/options.py Options: add_option(key, info) and attribute access to values."""

    def __init__(self):
        self.data = {}
        self.data_labels = {}

    def add_option(self, key, info):
        self.data_labels[key] = info
        self.data.setdefault(key, info.default)

    def __getattr__(self, item):
        if item in ("data", "data_labels"):
            raise AttributeError(item)
        if item in self.data:
            return self.data[item]
        raise AttributeError(item)


opts = Options()
cmd_opts = argparse.Namespace()


def reset(root: Path) -> None:
    """Stand-in only: a fresh webui data folder with models/Stable-diffusion and models/Lora."""
    global opts, state
    opts = Options()
    state = State()
    from modules import paths, sd_models

    paths.data_path = str(root)
    paths.models_path = str(root / "models")
    (root / "models" / "Stable-diffusion").mkdir(parents=True, exist_ok=True)
    (root / "models" / "Lora").mkdir(parents=True, exist_ok=True)
    cmd_opts.__dict__.clear()
    # modules/cmd_args.py (v1.10.1) defaults of the flags that open the webui to others
    cmd_opts.api = False
    cmd_opts.api_auth = None
    cmd_opts.listen = False
    cmd_opts.server_name = None
    cmd_opts.share = False
    cmd_opts.ngrok = None
    cmd_opts.gradio_auth = None
    cmd_opts.gradio_auth_path = None
    cmd_opts.lora_dir = str(root / "models" / "Lora")
    cmd_opts.ckpt_dir = None
    cmd_opts.lfd_datasets_dir = None
    cmd_opts.lfd_runs_dir = None
    sd_models.checkpoints_list.clear()
    sd_models.list_models()


class State:
    """modules/shared_state.py State (v1.10.1): begin(job="(unknown)"), end(), interrupt(),
    and the fields job, job_no, job_count, textinfo, interrupted read by the progress bar."""

    def __init__(self):
        self.job = ""
        self.job_no = 0
        self.job_count = 0
        self.textinfo = None
        self.interrupted = False
        self.history = []  # stand-in only: what begin/end saw, for tests

    def begin(self, job="(unknown)"):
        self.job, self.job_no, self.job_count, self.interrupted = job, 0, 0, False
        self.history.append(("begin", job))

    def end(self):
        self.history.append(("end", self.job))
        self.job = ""

    def interrupt(self):
        self.interrupted = True


state = State()
interrogator = None  # set by tests to an object with load(), generate_caption(img), unload()
