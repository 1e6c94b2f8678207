"""Weights & Biases: one run per job, its mode, and what it gets from results.json at the end.

W&B rules: one run per job, finished when the job ends, even when it raises (Lightning's WandbLogger
otherwise attaches the next job of a multirun to the still-open run). Mode: WANDB_MODE > the config >
online when an API key is configured, else offline; online that cannot reach the server within
``init_timeout`` falls back to offline, so a job never hangs on the network. A job keeps its run's id in its
directory (``wandb_run_id``): a SLURM job requeued and continued in place resumes the same W&B run
(``resume="allow"``) instead of opening a second one. An attempt started over is moved to attempts/ with its
id, and gets a run of its own.

What W&B gets at the end of a job (summary, confusion matrix, per-class table, the most confident mistakes)
is read from the job's results.json record and the predictions.npz it names: no number is computed twice.
wandb is imported only where used.
"""

from __future__ import annotations

import logging
import netrc
import os
import secrets
import string
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hydra.core.hydra_config import HydraConfig

from convlab.config.runtime import in_multirun, process_rank
from convlab.errors import ConfigError
from convlab.fileio import atomic_write_text
from convlab.runfiles.predictions import displayable, read_predictions
from convlab.runfiles.results import RESULTS_NAME, RunRecord, read_results

log = logging.getLogger(__name__)

WANDB_MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"dryrun": "offline", "run": "online"}  # values wandb itself accepts in WANDB_MODE
# Summary keys copied from results.json (test metrics under test/, as Lightning logs them).
_SUMMARY_KEYS = (
    "status",
    "error",
    "params",
    "flops_per_sample",
    "epochs",
    "train_seconds",
    "samples_per_second",
    "threads",
)
MISTAKES_IN_TABLE = 32
RUN_ID_NAME = "wandb_run_id"  # in the job's directory (save_dir): the W&B run a continued job resumes
_TEST_KEYS = ("acc", "f1_macro", "loss", "samples")


def wandb_api_key_configured() -> bool:
    """WANDB_API_KEY is set, or the netrc file (``$NETRC``, else ~/.netrc) has a key for the W&B host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").netloc
    path = Path(os.environ.get("NETRC") or "~/.netrc").expanduser()
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


def wandb_mode(configured: str | None) -> str:
    """WANDB_MODE env > ``configured`` (logger.wandb.mode) > online if an API key is configured, else offline."""
    env = os.environ.get("WANDB_MODE")
    for source, value in (("WANDB_MODE", env), ("logger.wandb.mode", configured)):
        if value:
            mode = _MODE_ALIASES.get(str(value).lower(), str(value).lower())
            if mode not in WANDB_MODES:
                raise ConfigError(f"{source}={value!r} is not valid: must be one of {', '.join(WANDB_MODES)}")
            return mode
    return "online" if wandb_api_key_configured() else "offline"


def sweep_group() -> str | None:
    """The sweep directory's name for a multirun job (its run dir is <sweep dir>/<job subdir>), else None."""
    return Path(HydraConfig.get().runtime.output_dir).parent.name if in_multirun() else None


def wandb_logger(
    project: str,
    save_dir: str,
    entity: str | None = None,
    mode: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    name: str | None = None,
    tags: list[str] | None = None,
    init_timeout: float = 30,
    log_model: bool = False,
) -> Any:
    """A Lightning WandbLogger around a run started here, with the mode and fallback described above."""
    import wandb
    from pytorch_lightning.loggers import WandbLogger

    resolved_mode = wandb_mode(mode)
    if process_rank() != 0:  # a DDP worker or SLURM task: Lightning logs from rank 0 only, which owns the run
        return WandbLogger(project=project, save_dir=save_dir, mode=resolved_mode)
    if wandb.run is not None:  # left open by code outside convlab's jobs: never merge into it
        log.warning("finishing W&B run %s left open before this job", wandb.run.id)
        wandb.run.finish()
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    run_id = job_run_id(Path(save_dir))
    init = {
        "id": run_id,
        "resume": "allow",  # the id is new, or this job's own run from before a requeue: continue it
        "project": project,
        "entity": entity,
        "group": group or sweep_group(),
        "job_type": job_type,
        "name": name or None,  # empty override list: let W&B pick a name
        "tags": list(tags or []),
        "dir": save_dir,
    }
    try:
        run = wandb.init(mode=resolved_mode, settings=wandb.Settings(init_timeout=init_timeout), **init)
    except Exception as e:  # wandb raises several types for network and auth failures
        if resolved_mode != "online":
            raise
        log.warning("W&B online failed (%s); logging offline instead: `wandb sync` uploads it later", e)
        wandb.teardown()  # the failed online attempt still holds the run id in W&B's service ("run ID in use")
        run = wandb.init(mode="offline", **init)
    return WandbLogger(experiment=run, project=project, save_dir=save_dir, log_model=log_model)


def job_run_id(save_dir: Path) -> str:
    """The W&B run id this job's directory keeps (a new one is generated and kept on the job's first start)."""
    path = save_dir / RUN_ID_NAME
    if path.is_file() and (kept := path.read_text().strip()):
        log.info("continuing W&B run %s (%s)", kept, path)
        return kept
    run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))  # W&B's own form
    atomic_write_text(path, run_id + "\n")
    return run_id


def log_wandb_results(run: Any, record: RunRecord, run_dir: Path) -> None:
    """The W&B summary, confusion matrix, per-class table and mistakes table of a job, from its results.json
    record (and the predictions.npz it names, in ``run_dir``)."""
    import wandb

    summary = {k: record[k] for k in _SUMMARY_KEYS if record.get(k) is not None}
    test = record.get("test") or {}
    summary.update({f"test/{k}": test[k] for k in _TEST_KEYS if k in test})
    if "acc_ci95" in test:
        summary.update({"test/acc_ci95_low": test["acc_ci95"][0], "test/acc_ci95_high": test["acc_ci95"][1]})
    summary.update({f"val/{k}": v for k, v in (record.get("val") or {}).items()})
    filt = record.get("filter") or {}  # the filter-regression task (experiment=sobel)
    summary.update({f"filter/{k}": filt[k] for k in ("mse", "max_abs_error", "steps_to_mse_goal") if k in filt})
    run.summary.update(summary)
    if "confusion_matrix" not in test:
        return
    names = [str(c) for c in record["class_names"]]
    cm = test["confusion_matrix"]
    # wandb.plot.confusion_matrix counts (true, predicted) pairs: expand the stored matrix into them.
    y_true = [i for i, row in enumerate(cm) for j, n in enumerate(row) for _ in range(n)]
    preds = [j for row in cm for j, n in enumerate(row) for _ in range(n)]
    per_class = test["per_class"]
    table = wandb.Table(
        columns=["class", "precision", "recall", "f1", "support"],
        data=[
            [name, per_class["precision"][i], per_class["recall"][i], per_class["f1"][i], sum(cm[i])]
            for i, name in enumerate(names)
        ],
    )
    run.log(
        {
            "test/confusion_matrix": wandb.plot.confusion_matrix(
                y_true=y_true, preds=preds, class_names=names, title="test confusion matrix"
            ),
            "test/per_class": table,
        }
    )
    if record.get("predictions"):
        run.log({"test/mistakes": mistakes_table(run_dir / record["predictions"], names)})


def mistakes_table(path: Path, class_names: list[str]) -> Any:
    """The most confident wrong test predictions, most confident first: image, index, true, predicted, probability."""
    import wandb

    found = read_predictions(path)
    rows = [
        [
            wandb.Image(displayable(image)),  # H x W, or H x W x 3 for RGB
            int(i),
            class_names[found.label[i]],
            class_names[found.pred[i]],
            float(found.prob[i]),
        ]
        for i, image in zip(found.mistake_index[:MISTAKES_IN_TABLE], found.mistake_images, strict=False)
    ]
    return wandb.Table(columns=["image", "index", "true", "predicted", "probability"], data=rows)


def finish_wandb_run(run_dir: Path) -> None:
    """Finish the W&B run a job left open (it raised, or a tracker step failed), marking it failed
    unless the job's results.json says ok. No-op when wandb was never imported."""
    wandb = sys.modules.get("wandb")
    if wandb is None or wandb.run is None:
        return
    status, error = "failed", "the job ended without results.json"
    try:
        record = read_results(run_dir / RESULTS_NAME)
        status, error = record["status"], record.get("error")
    except Exception:
        pass
    # Called from the job wrapper's finally: raising here would replace the job's own outcome (a requeued job's
    # RunInterrupted, which tells submitit not to record a result, by wandb's ConnectionResetError when SLURM's
    # SIGTERM reached wandb's service process too).
    try:
        wandb.run.summary.update({"status": status, **({"error": error} if error else {})})
        wandb.run.finish(exit_code=0 if status == "ok" else 1)
    except Exception as e:
        log.warning("W&B run not finished cleanly (%s: %s); its local files are kept", type(e).__name__, e)
