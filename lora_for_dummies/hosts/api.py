"""The job API, on the webui's FastAPI app (`on_app_started`) and on the standalone server.

    GET  /lfd/v1/jobs                 list jobs
    POST /lfd/v1/jobs                 start one: {"kind": "process" | "train" | "extract", ...}
    GET  /lfd/v1/jobs/{id}            status (progress, ETA, log, result)
    POST /lfd/v1/jobs/{id}/stop       stop it
    GET  /lfd/v1/runs                 training runs and their saved LoRAs
    GET  /lfd/v1/runs/{name}/log      a run's log.jsonl as a list

Requests are validated (400 with the reason, 404, 409 when a job is running) and obey the rules
of `api_rules` (same origin, JSON only, size cap, no tracebacks). Jobs name things, never paths
(`job_paths`): models by their title in the model list, datasets by name, output always into the
host's Lora and runs folders. With `credentials` (the webui's `--api-auth` or `--gradio-auth`,
`lfd serve --auth`), every route asks for HTTP Basic credentials.
"""

from __future__ import annotations

import json
import secrets
from contextlib import nullcontext
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from lora_for_dummies import messages as msg
from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.api_rules import check_request, json_body, no_tracebacks
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.jobs import JobManager
from lora_for_dummies.names import check_name
from lora_for_dummies.train.run_files import RunFiles

PREFIX = "/lfd/v1"


_FIELDS = {"process": {"kind", "dataset", "concept", "settings"},
           "train": {"kind", "job", "resume", "overwrite"},
           "extract": {"kind", "base", "tuned", "name", "rank", "overwrite"}}


# The JSON type of each field of a request (a number for rank: its range is checked later).
_TYPES: dict[str, Any] = {"kind": str, "dataset": str, "concept": str, "settings": dict,
                          "job": dict, "resume": bool, "overwrite": bool, "base": str,
                          "tuned": str, "name": str, "rank": int}


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise UserError(f"{key} must be true or false, not {_shown(value)}")
    return value


def _start_work(host: Host, body: dict[str, Any]) -> tuple[str, Any]:
    """Build the job a request asks for (every check happens here, before a 202)."""
    from lora_for_dummies.job_paths import known_names, model_by_title

    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise UserError(f"kind must be process, train or extract, not {_shown(kind)}")
    known_names(body, _FIELDS[kind], kind)
    for key, value in body.items():  # every field's JSON type first, before anything is opened
        want = _TYPES.get(key)
        if want and (not isinstance(value, want) or (want is not bool and
                                                     isinstance(value, bool))):
            raise UserError(f"{key} must be {_JSON_TYPES[want]}, not {_shown(value)}")
    if kind == "process":
        from lora_for_dummies.config import from_dict
        from lora_for_dummies.dataset.layout import open_dataset
        from lora_for_dummies.dataset.process import ProcessSettings, process_concept

        dataset = open_dataset(host.datasets_dir() / check_name(_text(body, "dataset")))
        settings = from_dict(ProcessSettings, _table(body, "settings"), "settings")
        settings.validate()
        concept = dataset.concept(_text(body, "concept"))
        return kind, lambda r: "\n".join(process_concept(dataset, concept, settings, r).lines())
    if kind == "train":
        from lora_for_dummies.job_paths import confine_train_job
        from lora_for_dummies.train.config import TrainJob
        from lora_for_dummies.train.guard import check_name_clash
        from lora_for_dummies.train.loop import Trainer

        resume, overwrite = _flag(body, "resume"), _flag(body, "overwrite")
        job = TrainJob.from_dict(_table(body, "job"))
        job.validate()
        confine_train_job(job, host)
        if not resume:  # refused now (400), not after the 202; the run checks it again
            check_name_clash(job, host.lora_dir(), overwrite)
        else:
            from lora_for_dummies.train.guard import check_resume

            if not (job.run_dir / "state" / "state.pt").is_file():
                raise msg.API_NOTHING_TO_RESUME.error(name=job.save.name)
            job.resolve_repeats()
            check_resume(job, job.run_dir)
        trainer = Trainer(job, host.lora_dir(), on_saved=lambda path: host.refresh_loras(),
                          overwrite=overwrite)

        def train(reporter: Any) -> str:
            trainer.reporter = reporter
            with host.gpu_job():
                return trainer.run(resume=resume).message

        return kind, train
    from lora_for_dummies.extract.run import ExtractSettings, extract_lora
    from lora_for_dummies.lora.format import output_path
    from lora_for_dummies.lora.lowrank import RankRule

    base = model_by_title(host, _text(body, "base"), "base")
    tuned = model_by_title(host, _text(body, "tuned"), "tuned")
    from lora_for_dummies.ranges import check_value

    rank = int(check_value("rank.rank", body.get("rank", 32), "rank"))
    settings = ExtractSettings(rule=RankRule(rank=rank))
    name = output_path(host.lora_dir(), _text(body, "name")).stem
    overwrite = _flag(body, "overwrite")
    from lora_for_dummies.extract.run import check_extraction

    check_extraction(base, tuned, host.lora_dir(), name, settings, overwrite)  # 4xx, not 202

    def extract(reporter: Any) -> str:  # on the CPU (the default): no need to free the GPU
        with host.gpu_job() if settings.device.startswith("cuda") else nullcontext():
            report = extract_lora(base, tuned, host.lora_dir(), name, settings, reporter,
                                  overwrite=overwrite)
        host.refresh_loras()
        return "\n".join(report.summary())

    return kind, extract


_JSON_TYPES = {str: "a string", bool: "true or false", int: "a number", float: "a number",
               list: "a list", dict: "a JSON object", type(None): "null"}


def _shown(value: Any) -> str:
    """A value as the message shows it: its JSON type, and the value itself when short."""
    kind = _JSON_TYPES.get(type(value), "a value")
    text = repr(value)
    return kind + (f" {text}" if len(text) <= 40 and not isinstance(value, (list, dict)) else "")


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise UserError(f"{key} must be a string, not {_shown(value)}")
    return value


def _table(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key, {})
    if not isinstance(value, dict):
        raise UserError(f"{key} must be a JSON object, not {_shown(value)}")
    return value


def add_routes(app: Any, host: Host, manager: JobManager | None = None,
               credentials: list[tuple[str, str]] | None = None) -> JobManager:
    manager = manager or JobManager()
    basic = HTTPBasic(auto_error=False)

    def auth(request: Request, given: HTTPBasicCredentials | None = Depends(basic)) -> None:
        check_request(request)  # first: a foreign page learns nothing, not even 401
        if not credentials:
            return
        if given is None or not any(
                secrets.compare_digest(given.username, user) and
                secrets.compare_digest(given.password, password)
                for user, password in credentials):
            raise HTTPException(401, "wrong or missing credentials",
                                headers={"WWW-Authenticate": "Basic"})

    guard = [Depends(auth)]

    @app.get(PREFIX + "/jobs", dependencies=guard)
    @no_tracebacks
    def list_jobs() -> list[dict[str, Any]]:
        return [job.as_dict() for job in manager.jobs.values()]

    @app.post(PREFIX + "/jobs", status_code=202, dependencies=guard)
    @no_tracebacks
    async def start_job(request: Request) -> dict[str, Any]:
        from lora_for_dummies.gate import GATE, GateBusy

        body = await json_body(request)
        try:
            running = GATE.busy()
            if running is not None:
                raise HTTPException(409, msg.API_BUSY.format(running=running))
            kind, work = _start_work(host, body)
            return manager.start(kind, work, host.reporter()).as_dict()
        except GateBusy as err:
            raise HTTPException(409, str(err)) from None
        except UserError as err:
            raise HTTPException(400, str(err)) from None

    def known_job(job_id: str) -> Any:
        try:
            return manager.get(job_id)
        except KeyError:
            raise HTTPException(404, msg.API_NO_JOB.format(job_id=job_id)) from None

    @app.get(PREFIX + "/jobs/{job_id}", dependencies=guard)
    @no_tracebacks
    def job_status(job_id: str) -> dict[str, Any]:
        return known_job(job_id).as_dict()

    @app.post(PREFIX + "/jobs/{job_id}/stop", dependencies=guard)
    @no_tracebacks
    async def stop_job(job_id: str, request: Request) -> dict[str, Any]:
        await json_body(request, required=False)
        job = known_job(job_id)
        job.reporter.request_stop()
        return job.as_dict()

    @app.get(PREFIX + "/runs", dependencies=guard)
    @no_tracebacks
    def list_runs() -> list[dict[str, Any]]:
        runs = []
        root = host.runs_dir()
        for folder in sorted(p for p in root.iterdir() if (p / "config.toml").is_file()) \
                if root.is_dir() else []:
            files = RunFiles(folder, host.lora_dir(), folder.name)
            main = host.lora_dir() / f"{folder.name}.safetensors"
            loras = sorted([main.name] * files.owns(main) + [p.name for _, p in files.steps()])
            runs.append({"name": folder.name, "loras": loras,
                         "resumable": (folder / "state" / "state.pt").is_file()})
        return runs

    @app.get(PREFIX + "/runs/{name}/log", dependencies=guard)
    @no_tracebacks
    def run_log(name: str) -> list[dict[str, Any]]:
        try:
            log = host.runs_dir() / check_name(name, "run name") / "log.jsonl"
        except UserError as err:
            raise HTTPException(400, str(err)) from None
        if not log.is_file():
            raise HTTPException(404, f"no log for run {name}")
        records = []
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a killed run
        return records

    return manager

