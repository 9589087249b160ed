"""`lfd serve|inspect …` (or `python -m lora_for_dummies …`): the same core as the tabs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lora_for_dummies.errors import UserError


def _cmd_inspect(args: argparse.Namespace) -> int:
    from lora_for_dummies.checkpoints.detect import inspect_checkpoint
    from lora_for_dummies.errors import SeparatePart

    status = 0
    for model in args.models:
        try:
            info = inspect_checkpoint(
                model, compute_hash=not args.no_hash, prediction_override=args.prediction,
                zero_terminal_snr_override={"yes": True, "no": False}.get(
                    args.zero_terminal_snr))
        except SeparatePart as part:  # recognised (Flux's CLIP-L, T5, VAE, a LoRA): one line
            print(json.dumps({"path": str(part.path), "file_name": part.path.name,
                              "part": part.kind, "description": part.reason}, indent=2)
                  if args.json else str(part))
            continue
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps(info.as_dict(), indent=2))
        else:
            width = max(len(label) for label, _ in info.rows())
            for label, value in info.rows():
                print(f"{label:<{width}}  {value}")
            print()
    return status


def _serve_credentials(args: argparse.Namespace) -> list[tuple[str, str]]:
    """`--auth` as pairs; a server open beyond this computer without them is refused (exit 2),
    before anything is prepared or started."""
    from lora_for_dummies.hosts.api_rules import host_is_loopback, parse_credentials

    credentials = parse_credentials(args.auth or "")
    if args.auth is not None and not credentials:
        raise UserError("--auth: write user:password (several pairs separated by commas)")
    if not credentials and not host_is_loopback(args.host):
        raise UserError(f"--host {args.host} opens this app to your network: add --auth "
                        "user:password (or listen on 127.0.0.1)")
    return credentials


def _cmd_serve(args: argparse.Namespace) -> int:
    from lora_for_dummies.demo import demo_ready_line, find_webui_models, prepare_demo
    from lora_for_dummies.hosts.standalone import StandaloneHost
    from lora_for_dummies.ui.app import standalone_app

    credentials = _serve_credentials(args)
    models_dir, lora_dir = args.models_dir and Path(args.models_dir), \
        args.lora_dir and Path(args.lora_dir)
    if args.demo:
        model = prepare_demo(Path(args.data_dir))
        print(demo_ready_line(model))
    elif models_dir is None:
        found = find_webui_models()
        if found is not None:
            models_dir, lora_dir = found[0], lora_dir or found[1]
            print(f"using the webui's models in {models_dir}")
    host = StandaloneHost(Path(args.data_dir), models_dir, lora_dir)
    print(f"models: {host.models_dir}  loras: {host.lora_dir()}  data: {host.data_dir}")
    if not host.checkpoints():
        print(host.models_hint())
    from lora_for_dummies.hosts.api import add_routes
    from lora_for_dummies.hosts.api_rules import guard_app_kwargs, host_is_loopback
    from lora_for_dummies.hosts.offline import offline_app_kwargs

    # The Host / Origin guard outermost, in front of every route (gradio's and the API's).
    middleware = guard_app_kwargs(host_is_loopback(args.host))["middleware"] + \
        offline_app_kwargs()["middleware"]
    demo = standalone_app(host)
    server, _, _ = demo.queue().launch(server_name=args.host, server_port=args.port,
                                       inbrowser=False, prevent_thread_lock=True,
                                       auth=credentials or None,
                                       app_kwargs={"middleware": middleware})
    add_routes(server, host, credentials=credentials)
    from lora_for_dummies.hosts.api_rules import without_debug_pages

    without_debug_pages(server)  # no traceback in any response, gradio's routes included
    if credentials:
        print("the app and the job API ask for the --auth user name and password")
    print(f"job API: http://{args.host}:{args.port}/lfd/v1/jobs")
    if not args.no_block:
        demo.block_thread()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lfd",
                                     description="LoRA for Dummies: train, extract and inspect "
                                                 "LoRAs for Stable Diffusion and Flux.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the standalone app in your browser")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this computer only)")
    serve.add_argument("--port", type=int, default=7870, help="port (default 7870)")
    serve.add_argument("--auth", metavar="USER:PASSWORD",
                       help="ask for this user name and password in the app and the job API "
                            "(several pairs separated by commas); required with a --host other "
                            "than 127.0.0.1 / localhost")
    serve.add_argument("--data-dir", default="lfd_data",
                       help="workspace for datasets and runs (default ./lfd_data)")
    serve.add_argument("--models-dir", help="folder of checkpoints (default DATA_DIR/models)")
    serve.add_argument("--lora-dir", help="where LoRAs are saved (default DATA_DIR/Lora)")
    serve.add_argument("--demo", action="store_true",
                       help="prepare a demo workspace (tiny model + small dataset) to try the "
                            "whole flow on a CPU")
    serve.add_argument("--no-block", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(func=_cmd_serve)

    inspect = sub.add_parser("inspect", help="show what a checkpoint is (family, variant, "
                                             "hashes); names a Flux part or LoRA in one line")
    inspect.add_argument("models", nargs="+", help=".safetensors or .ckpt files (a Flux "
                                                   "transformer, or its clip_l / t5xxl / ae)")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.add_argument("--no-hash", action="store_true", help="skip the sha256 (faster)")
    inspect.add_argument("--prediction", choices=["epsilon", "v"],
                         help="override the detected prediction type")
    inspect.add_argument("--zero-terminal-snr", choices=["yes", "no"],
                         help="override the detected noise schedule (yes: zero terminal SNR, "
                              "as NoobAI-XL V-Pred)")
    inspect.set_defaults(func=_cmd_inspect)

    from lora_for_dummies.cli_dataset import add_dataset_commands

    add_dataset_commands(sub)
    from lora_for_dummies.cli_lora import add_lora_commands

    add_lora_commands(sub)
    from lora_for_dummies.cli_train import add_train_commands

    add_train_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as err:
        from lora_for_dummies.progress import ConsoleReporter

        ConsoleReporter.end_line(sys.stderr)
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # not through a writer of ours (reading a folder, …): same words
        from lora_for_dummies.os_errors import os_error_message
        from lora_for_dummies.progress import ConsoleReporter

        ConsoleReporter.end_line(sys.stderr)
        print(f"error: {os_error_message(err, 'failed on')}", file=sys.stderr)
        return 1
