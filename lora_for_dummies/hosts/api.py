"""The job API, on the webui's FastAPI app (`on_app_started`) and on the standalone server.

    GET  /lfd/v1/jobs                 list jobs
    POST /lfd/v1/jobs                 start one: {"kind": "process" | "train" | "extract", ...}
    GET  /lfd/v1/jobs/{id}            status (progress, ETA, log, result)
    POST /lfd/v1/jobs/{id}/stop       stop it
    GET  /lfd/v1/runs                 training runs and their saved LoRAs
    GET  /lfd/v1/runs/{name}/log      a run's log.jsonl as a list

Requests are validated (400 with the reason, 404, 409 when a job is running). When the webui
has `--api-auth user:password`, every route asks for HTTP Basic credentials.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from lora_for_dummies.errors import UserError
from lora_for_dummies.hosts.base import Host
from lora_for_dummies.jobs import JobManager

PREFIX = "/lfd/v1"


def _start_work(host: Host, body: dict[str, Any]) -> tuple[str, Any]:
    kind = body.get("kind")
    if kind == "process":
        from lora_for_dummies.config import from_dict
        from lora_for_dummies.dataset.layout import check_name, open_dataset
        from lora_for_dummies.dataset.process import ProcessSettings, process_concept

        dataset = open_dataset(host.datasets_dir() / check_name(str(body.get("dataset", ""))))
        settings = from_dict(ProcessSettings, body.get("settings", {}), "settings")
        concept = dataset.concept(str(body.get("concept", "")))
        return kind, lambda r: "\n".join(process_concept(dataset, concept, settings, r).lines())
    if kind == "train":
        from lora_for_dummies.train.config import TrainJob
        from lora_for_dummies.train.loop import Trainer

        job = TrainJob.from_dict(body.get("job", {}))
        job.runs_dir = str(host.runs_dir())
        job.validate()

        def train(reporter: Any) -> str:
            trainer = Trainer(job, host.lora_dir(), reporter,
                              on_saved=lambda path: host.refresh_loras())
            with host.gpu_job():
                return trainer.run(resume=bool(body.get("resume"))).message

        return kind, train
    if kind == "extract":
        from lora_for_dummies.extract.lowrank import RankRule
        from lora_for_dummies.extract.run import ExtractSettings, extract_lora

        checkpoints = {e.title: e.path for e in host.checkpoints()}
        base, tuned = body.get("base"), body.get("tuned")
        if base not in checkpoints or tuned not in checkpoints:
            raise UserError("base and tuned must be titles from GET the model list "
                            f"({len(checkpoints)} known)")
        settings = ExtractSettings(rule=RankRule(rank=int(body.get("rank", 32))))

        def extract(reporter: Any) -> str:
            report = extract_lora(checkpoints[base], checkpoints[tuned], host.lora_dir(),
                                  str(body.get("name", "")), settings, reporter)
            host.refresh_loras()
            return "\n".join(report.summary())

        return kind, extract
    raise UserError("kind must be process, train or extract")


def add_routes(app: Any, host: Host, manager: JobManager | None = None,
               credentials: list[tuple[str, str]] | None = None) -> JobManager:
    manager = manager or JobManager()
    basic = HTTPBasic(auto_error=False)

    def auth(given: HTTPBasicCredentials | None = Depends(basic)) -> None:
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
    def list_jobs() -> list[dict[str, Any]]:
        return [job.as_dict() for job in manager.jobs.values()]

    @app.post(PREFIX + "/jobs", status_code=202, dependencies=guard)
    async def start_job(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise HTTPException(400, "the body must be JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "the body must be a JSON object")
        try:
            kind, work = _start_work(host, body)
            if manager.running() is not None:
                raise HTTPException(409, f"job {manager.running().id} is still running")
            return manager.start(kind, work, host.reporter()).as_dict()
        except UserError as err:
            raise HTTPException(400, str(err)) from None

    def known_job(job_id: str) -> Any:
        try:
            return manager.get(job_id)
        except KeyError:
            raise HTTPException(404, f"no job {job_id}") from None

    @app.get(PREFIX + "/jobs/{job_id}", dependencies=guard)
    def job_status(job_id: str) -> dict[str, Any]:
        return known_job(job_id).as_dict()

    @app.post(PREFIX + "/jobs/{job_id}/stop", dependencies=guard)
    def stop_job(job_id: str) -> dict[str, Any]:
        job = known_job(job_id)
        job.reporter.request_stop()
        return job.as_dict()

    @app.get(PREFIX + "/runs", dependencies=guard)
    def list_runs() -> list[dict[str, Any]]:
        runs = []
        root = host.runs_dir()
        for folder in sorted(p for p in root.iterdir() if (p / "config.toml").is_file()) \
                if root.is_dir() else []:
            loras = sorted(p.name for p in host.lora_dir().glob(f"{folder.name}*.safetensors"))
            runs.append({"name": folder.name, "loras": loras,
                         "resumable": (folder / "state" / "state.pt").is_file()})
        return runs

    @app.get(PREFIX + "/runs/{name}/log", dependencies=guard)
    def run_log(name: str) -> list[dict[str, Any]]:
        from lora_for_dummies.dataset.layout import check_name

        try:
            log = host.runs_dir() / check_name(name, "run name") / "log.jsonl"
        except UserError as err:
            raise HTTPException(400, str(err)) from None
        if not log.is_file():
            raise HTTPException(404, f"no log for run {name}")
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]

    return manager


def webui_credentials() -> list[tuple[str, str]]:
    """The webui's `--api-auth user:pass,user2:pass2`, if set."""
    from modules import shared

    value = getattr(shared.cmd_opts, "api_auth", None) or ""
    return [tuple(pair.split(":", 1)) for pair in value.split(",") if ":" in pair]
