"""The wrapper around every job a command line runs: a failure becomes one line (single run) or a
results.json with status failed (multirun, where the sweep goes on), and the job's W&B run is closed."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from convlab.cli.exit import EXIT_BAD_INPUT, one_line
from convlab.errors import ConvlabError, RunDirInUseError
from convlab.run.launch import process_rank
from convlab.run.record import RESULTS_NAME, describe_run, write_results
from convlab.trackers.wandb_run import finish_wandb_run

log = logging.getLogger("convlab")


def run_job(job: Callable[[DictConfig], dict[str, Any]], cfg: DictConfig) -> dict[str, Any] | None:
    """Run one job. A single run stops on bad input with one line and exit code 2; in a multirun the
    failure is recorded in the job's results.json and the sweep goes on."""
    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        return job(cfg)
    except ConvlabError as e:
        message = one_line(str(e))
        if not isinstance(e, RunDirInUseError):  # that directory is another run's: leave it as it is
            record_failure(cfg, message)
        if not multirun:
            print(f"convlab: error: {message}", file=sys.stderr, flush=True)
            sys.exit(EXIT_BAD_INPUT)
        log.error("job failed: %s", message)
    except Exception as e:
        record_failure(cfg, f"{type(e).__name__}: {one_line(str(e))}")
        if not multirun:
            raise
        log.error("job failed:\n%s", traceback.format_exc())
    finally:  # one W&B run per job, closed even when the job raised: the next job must not join it
        finish_wandb_run(Path(str(OmegaConf.select(cfg, "paths.output_dir"))))
    return None


def record_failure(cfg: DictConfig, message: str) -> None:
    """Leave a results.json with status failed in the job's own (new) directory, never elsewhere.
    Only rank 0 records: the other processes of a distributed run share its directory."""
    out_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir")))
    if (out_dir / RESULTS_NAME).exists() or not out_dir.is_dir() or process_rank() != 0:
        return
    try:
        record = describe_run(cfg)
    except Exception:
        record = {
            "status": "failed",
            "dataset": None,
            "model": None,
            "optim": None,
            "loss": None,
            "overrides": [],
        }
    record.update(status="failed", error=message)
    write_results(out_dir, record)
