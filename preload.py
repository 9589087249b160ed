"""Command-line flags of the extension, read by the webui before it parses its arguments."""


def preload(parser):
    parser.add_argument("--lfd-datasets-dir", dest="lfd_datasets_dir", type=str, default=None,
                        help="LoRA for Dummies: folder for datasets (overrides the setting)")
    parser.add_argument("--lfd-runs-dir", dest="lfd_runs_dir", type=str, default=None,
                        help="LoRA for Dummies: folder for training runs (overrides the setting)")
