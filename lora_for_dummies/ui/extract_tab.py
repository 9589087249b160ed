"""Extract tab: LoRA from base + fine-tuned checkpoints; convert, rescale, resize, merge."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lora_for_dummies.environment import available_devices
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.ui import compat
from lora_for_dummies.ui.compat import user_message
from lora_for_dummies.ui.extract_controller import REPORT_HEADERS, ExtractController
from lora_for_dummies.ui.help_text import TIPS
from lora_for_dummies.ui.jobs import run_job, stop_current
from lora_for_dummies.ui.lists import refreshable

RANK_MODES = ["fixed", "energy", "frobenius", "ratio"]
DYNAMIC_RANK_HELP = (
    "fixed: the same rank in every layer (what most tools expect). energy / frobenius / ratio: "
    "each layer gets the rank it needs, for a smaller file at the same quality. Both load at "
    "the right strength in A1111, Forge, Forge Neo, ComfyUI and diffusers (one alpha for "
    "every layer).")


INTRO = ("**When to use this tab:** you have a fine-tuned checkpoint (a merge or a Dreambooth "
         "model) and want what it changed as a LoRA: a small file that adds that change to its "
         "base, or to a model of the same family. Below: fix, shrink, merge or convert LoRAs "
         "you already have.")


def build_extract_tab(host: Host) -> dict[str, Any]:
    ctl = ExtractController(host)
    titles = ctl.checkpoint_titles()
    gr.Markdown(INTRO, elem_id="lfd_extract_intro")
    with gr.Row():
        base = compat.dropdown("Base checkpoint", titles, None, "lfd_extract_base",
                               info=TIPS["lfd_extract_base"])
        refreshable(host, base, host.refresh_checkpoints,
                            lambda: {"choices": ctl.checkpoint_titles()},
                            "lfd_extract_base_refresh")
        tuned = compat.dropdown("Fine-tuned checkpoint", titles, None, "lfd_extract_tuned",
                                info=TIPS["lfd_extract_tuned"])
        refreshable(host, tuned, host.refresh_checkpoints,
                            lambda: {"choices": ctl.checkpoint_titles()},
                            "lfd_extract_tuned_refresh")
    with gr.Row():
        name = gr.Textbox(label="LoRA name", elem_id="lfd_extract_name",
                          info=TIPS["lfd_extract_name"])
        rank = gr.Number(value=32, precision=0, label="Rank (cap for dynamic)",
                         elem_id="lfd_extract_rank", info=TIPS["lfd_extract_rank"])
        mode = gr.Radio(RANK_MODES, value="fixed", label="Rank", elem_id="lfd_extract_mode",
                        info=DYNAMIC_RANK_HELP)
        threshold = gr.Slider(0.5, 1.0, value=0.9, step=0.005,
                              label="Dynamic: fraction kept / smallest σ ratio",
                              elem_id="lfd_extract_threshold", info=TIPS["lfd_extract_threshold"])
    with gr.Row():
        conv_rank = gr.Number(value=0, precision=0, label="Conv rank (0 = no conv layers)",
                              elem_id="lfd_extract_conv_rank", info=TIPS["lfd_extract_conv_rank"])
        text_encoders = gr.Checkbox(value=True, label="Text encoder(s)",
                                    elem_id="lfd_extract_text", info=TIPS["lfd_extract_text"])
        ema = gr.Checkbox(label="Use the fine-tune's EMA weights", elem_id="lfd_extract_ema",
                          info=TIPS["lfd_extract_ema"])
        clamp = gr.Number(value=0, label="Quantile clamp (0 = off; costs accuracy)",
                          elem_id="lfd_extract_clamp", info=TIPS["lfd_extract_clamp"])
        devices = available_devices()  # only what this machine has
        device = gr.Radio(devices, value="cpu", label="Device", elem_id="lfd_extract_device",
                          info=TIPS["lfd_extract_device" if len(devices) > 1
                                    else "lfd_extract_device_cpu"])
        dtype = gr.Radio(["fp16", "bf16", "fp32"], value="fp16", label="Save as",
                         elem_id="lfd_extract_dtype", info=TIPS["lfd_extract_dtype"])
        overwrite = gr.Checkbox(label="Overwrite", elem_id="lfd_extract_overwrite",
                                info=TIPS["lfd_extract_overwrite"])
    with gr.Row():
        run = gr.Button("Extract", variant="primary", elem_id="lfd_extract_run")
        stop = gr.Button("Stop", elem_id="lfd_extract_stop")
    status = gr.Textbox(label="Status", lines=4, interactive=False, elem_id="lfd_extract_status")
    report = compat.table(REPORT_HEADERS, "lfd_extract_report", interactive=False,
                          label="Per-module report")

    with gr.Accordion("LoRA tools: inspect, rescale, resize, merge, convert", open=True):
        loras = ctl.loras()
        with gr.Row():
            lora = compat.dropdown("LoRA", loras, None, "lfd_tools_lora",
                                   info=TIPS["lfd_tools_lora"])
            refreshable(host, lora, lambda: None, lambda: {"choices": ctl.loras()},
                                "lfd_tools_lora_refresh")
            info = gr.Button("Inspect", elem_id="lfd_tools_info")
        with gr.Row():
            out_name = gr.Textbox(label="Save as (name)", elem_id="lfd_tools_output",
                                  info=TIPS["lfd_tools_output"])
            tools_overwrite = gr.Checkbox(label="Overwrite", elem_id="lfd_tools_overwrite",
                                          info=TIPS["lfd_tools_overwrite"])
        with gr.Row():
            factor = gr.Slider(0.1, 2.0, value=0.6, step=0.05, label="Bake strength",
                               elem_id="lfd_tools_factor", info=TIPS["lfd_tools_factor"])
            rescale = gr.Button("Rescale", elem_id="lfd_tools_rescale")
        with gr.Row():
            new_rank = gr.Number(value=16, precision=0, label="New rank (cap)",
                                 elem_id="lfd_tools_rank", info=TIPS["lfd_tools_rank"])
            resize_mode = gr.Radio(RANK_MODES, value="fixed", label="Rank",
                                   elem_id="lfd_tools_mode", info=DYNAMIC_RANK_HELP)
            resize_threshold = gr.Slider(0.5, 1.0, value=0.9, step=0.005, label="Threshold",
                                         elem_id="lfd_tools_threshold",
                                         info=TIPS["lfd_tools_threshold"])
            resize = gr.Button("Resize", elem_id="lfd_tools_resize")
        with gr.Row():
            merge_list = gr.Dropdown(loras, multiselect=True, label="LoRAs / saved steps to merge",
                                     elem_id="lfd_tools_merge_list",
                                     info=TIPS["lfd_tools_merge_list"])
            refreshable(host, merge_list, lambda: None, lambda: {"choices": ctl.loras()},
                                "lfd_tools_merge_list_refresh")
            weights = gr.Textbox(label="Weights (e.g. 0.5, 0.5)", elem_id="lfd_tools_weights",
                                 info=TIPS["lfd_tools_weights"])
            merge_rank = gr.Number(value=0, precision=0, label="Re-factor to rank (0 = exact)",
                                   elem_id="lfd_tools_merge_rank",
                                   info=TIPS["lfd_tools_merge_rank"])
            merge = gr.Button("Merge", elem_id="lfd_tools_merge")
        with gr.Row():
            old_files = compat.file_upload("Old .pt (+ _txt.pt) or diffusers/peft .safetensors",
                                           "lfd_tools_convert_files")
            convert_path = gr.Textbox(label="…or a path", elem_id="lfd_tools_convert_path",
                                      info=TIPS["lfd_tools_convert_path"])
            convert = gr.Button("Convert (base = the base checkpoint above)",
                                elem_id="lfd_tools_convert")
        tools_status = gr.Textbox(label="Result", lines=8, interactive=False,
                                  elem_id="lfd_tools_status")

    def on_extract(*values: Any):
        reporter = host.reporter()
        for progress, result in run_job(reporter, lambda r: ctl.extract(*values, r),
                                        lambda x: x):
            if result is None:
                yield progress, compat.update()
            else:
                rows, summary = result
                yield f"{progress}\n{summary}", rows

    run.click(on_extract, [base, tuned, name, rank, mode, threshold, conv_rank, text_encoders,
                           ema, clamp, device, dtype, overwrite], [status, report])
    stop.click(stop_current, [], [status])
    info.click(user_message(ctl.info), [lora], [tools_status])
    rescale.click(user_message(ctl.rescale), [lora, factor, out_name, tools_overwrite],
                  [tools_status])
    resize.click(user_message(ctl.resize),
                 [lora, new_rank, resize_mode, resize_threshold, out_name, tools_overwrite],
                 [tools_status])
    merge.click(user_message(ctl.merge),
                [merge_list, weights, merge_rank, out_name, tools_overwrite], [tools_status])

    def on_convert(files: Any, path: str, base_title: str, new_name: str, allow: bool) -> str:
        sources = compat.uploaded_paths(files) + [p.strip() for p in (path or "").split(",")
                                                  if p.strip()]
        return ctl.convert(sources, base_title, new_name, allow)

    convert.click(user_message(on_convert), [old_files, convert_path, base, out_name,
                                         tools_overwrite], [tools_status])
    return {"base": base, "tuned": tuned, "lora": lora, "status": status}
