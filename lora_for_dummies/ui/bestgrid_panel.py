""""Which step is best?" in the Train tab: render the grid of a run's saved steps × strength ×
CFG, click a cell, and make that step the LoRA with that strength as its preferred weight."""

from __future__ import annotations

from typing import Any

import gradio as gr

from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.train.bestgrid import (
    GridCell,
    cpu_grid_warning,
    existing_cells,
    grid_for_run,
    parse_numbers,
    run_job_file,
    use_cell,
)
from lora_for_dummies.ui import compat
from lora_for_dummies.ui.help_text import TIPS
from lora_for_dummies.ui.jobs import run_job


def build_best_step_panel(host: Host, run_name: Any) -> dict[str, Any]:
    """`run_name`: the Train tab's LoRA-name field (the run to look at)."""
    from lora_for_dummies.ui import train_form as form

    def shown_cells(name: str) -> list[GridCell]:
        from lora_for_dummies.names import check_name

        try:
            return existing_cells(host.runs_dir() / check_name(name, "run name") / "bestgrid")
        except (OSError, TypeError, UserError):
            return []

    # At every page load, the grid last rendered for the form's run, from its files on disk.
    def page_grid() -> str | None:
        found = shown_cells(form.form_job(host).save.name)
        grid = found[0].image.parent / "grid.png" if found else None
        return str(grid) if grid is not None and grid.is_file() else None

    def page_cells() -> list[tuple[str, str]] | None:
        return [(str(c.image), c.label) for c in shown_cells(form.form_job(host).save.name)] \
            or None
    with gr.Accordion("Which step is best?", open=False, elem_id="lfd_best"):
        gr.Markdown("Every saved step of the run × LoRA strength × CFG, for one prompt and "
                    "seed. Click the cell you like, then **Use this cell**: that step becomes "
                    "`<name>.safetensors` with that strength as its preferred weight.")
        with gr.Row():
            prompt = gr.Textbox(label="Prompt (empty: the run's first sample prompt)",
                                elem_id="lfd_best_prompt", info=TIPS["lfd_best_prompt"])
            seed = gr.Number(value=-1, precision=0, label="Seed (-1: the run's sample seed)",
                             elem_id="lfd_best_seed", info=TIPS["lfd_best_seed"])
            strengths = gr.Textbox(value="0.4, 0.6, 0.8, 1.0", label="Strengths",
                                   elem_id="lfd_best_strengths", info=TIPS["lfd_best_strengths"])
            cfgs = gr.Textbox(value="5, 7", label="CFG values", elem_id="lfd_best_cfgs",
                              info=TIPS["lfd_best_cfgs"])
            render = gr.Button("Render grid", variant="primary", elem_id="lfd_best_render")
        status = gr.Textbox(label="Grid", lines=3, interactive=False, elem_id="lfd_best_status")
        grid = gr.Image(page_grid, label="Grid (rows: steps; columns: strength and CFG)",
                        type="filepath", interactive=False, elem_id="lfd_best_grid")
        cells = compat.gallery("Cells: click one", "lfd_best_cells", page_cells)
        with gr.Row():
            chosen = gr.Textbox(label="Chosen cell", interactive=False, elem_id="lfd_best_chosen",
                                info=TIPS["lfd_best_chosen"])
            use = gr.Button("Use this cell", elem_id="lfd_best_use")
        used = gr.Textbox(label="Result", interactive=False, elem_id="lfd_best_used")

    def on_render(name: str, text: str, seed_value: float, strength_text: str, cfg_text: str):
        try:
            values = (parse_numbers(strength_text, "strengths"),
                      parse_numbers(cfg_text, "CFG values"))
        except UserError as err:
            yield f"⚠ {err}", compat.update(), compat.update()
            return
        try:  # said before the first cell, and kept above the progress
            warning = cpu_grid_warning(host.runs_dir(), host.lora_dir(), name, *values)
        except (UserError, OSError):
            warning = None  # the render names the problem itself

        def shown(progress: str) -> str:
            return f"{warning}\n{progress}" if warning else progress

        def work(reporter: Any) -> Any:
            with host.gpu_job():
                return grid_for_run(host.runs_dir(), host.lora_dir(), name, text,
                                    None if int(seed_value) < 0 else int(seed_value), *values,
                                    reporter=reporter)

        for progress, result in run_job(host.reporter(), work, lambda x: x,
                                        what=f"the best-step grid of {name}"):
            if result is None:
                yield shown(progress), compat.update(), compat.update()
            else:
                yield (shown(progress), str(result.image),
                       [(str(c.image), c.label) for c in result.cells])

    render.click(on_render, [run_name, prompt, seed, strengths, cfgs], [status, grid, cells])

    def on_select(name: str, evt: gr.SelectData) -> str:
        found = shown_cells(name)
        return found[evt.index].label if 0 <= evt.index < len(found) else ""

    cells.select(on_select, [run_name], [chosen])

    def on_use(name: str, label: str) -> str:
        cell = next((c for c in shown_cells(name) if c.label == label), None)
        if cell is None:
            raise UserError("click a cell of the grid first")
        job = run_job_file(host.runs_dir(), name)
        path = use_cell(job.save.lora_dir or host.lora_dir(), name, cell, job.run_dir)
        host.refresh_loras()
        return (f"{path.name} is now {cell.label.split(' · ')[0]}, preferred weight "
                f"{cell.strength:g} — use it as <lora:{name}:{cell.strength:g}> (the CFG is "
                "yours to set in txt2img)")

    # the answer next to the button (the grid's own box is far above it)
    use.click(compat.user_message(on_use), [run_name, chosen], [used])
    return {"render": render, "cells": cells, "chosen": chosen, "use": use, "status": status,
            "grid": grid, "used": used}
