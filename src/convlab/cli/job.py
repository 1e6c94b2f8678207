"""The wrapper around every job a command line runs: a failure becomes one line (single run) or a
results.json with status failed (multirun, where the sweep goes on), Ctrl-C a results.json with status
interrupted, and the job's W&B run is closed. In a multirun each job prints one line as it ends."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from convlab.cli.exit import fail, one_line
from convlab.cli.summary import job_line
from convlab.config.runtime import in_multirun, process_rank
from convlab.errors import ConvlabError, RunDirInUseError, RunInterrupted
from convlab.run.record import describe_run
from convlab.runfiles.results import REQUIRED_KEYS, RESULTS_NAME, RunRecord, Status, write_results
from convlab.trackers.wandb_run import finish_wandb_run

log = logging.getLogger(__name__)


def run_job(job: Callable[[DictConfig], RunRecord], cfg: DictConfig) -> RunRecord | None:
    """Run one job. A single run stops on bad input with one line and exit code 2; in a multirun the
    failure is recorded in the job's results.json and the sweep goes on. Ctrl-C raises RunInterrupted."""
    multirun = in_multirun()
    out_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir")))
    start = time.perf_counter()
    record: RunRecord | None = None
    try:
        record = job(cfg)
        return record
    except RunInterrupted as e:
        record = e.record
        e.job_num, e.job_dir = (HydraConfig.get().job.num if multirun else None), out_dir
        raise
    except KeyboardInterrupt:  # before the trainer started (reading data, building the model)
        record = record_outcome(cfg, "interrupted", "Ctrl-C before training started") or {"status": "interrupted"}
        interrupted = RunInterrupted(record)
        interrupted.job_num, interrupted.job_dir = (HydraConfig.get().job.num if multirun else None), out_dir
        raise interrupted from None
    except ConvlabError as e:
        message = one_line(str(e))
        if not isinstance(e, RunDirInUseError):  # that directory is another run's: leave it as it is
            record = record_outcome(cfg, "failed", message)
        if not multirun:
            fail(message)
        log.info("job failed: %s", message)  # the job's log; the console has the job's line
        record = record or {"status": "failed", "error": message}
    except Exception as e:
        message = f"{type(e).__name__}: {one_line(str(e))}"
        record = record_outcome(cfg, "failed", message) or {"status": "failed", "error": message}
        if not multirun:
            raise
        log.error("job failed:\n%s", traceback.format_exc())
    finally:  # one W&B run per job, closed even when the job raised: the next job must not join it
        finish_wandb_run(out_dir)
        if multirun and process_rank() == 0:
            print(job_line(record, out_dir, time.perf_counter() - start), flush=True)
    return None


def record_outcome(cfg: DictConfig, status: Status, message: str) -> RunRecord | None:
    """Leave a results.json with ``status`` (failed, interrupted) in the job's own (new) directory, never
    elsewhere; return it. Only rank 0 records: the other processes of a distributed run share its directory."""
    out_dir = Path(str(OmegaConf.select(cfg, "paths.output_dir")))
    if (out_dir / RESULTS_NAME).exists() or not out_dir.is_dir() or process_rank() != 0:
        return None
    try:
        record = describe_run(cfg)
    except Exception:  # a config too broken to describe: the required keys, unknown
        record = RunRecord(dict.fromkeys(REQUIRED_KEYS), overrides=[])
    record.update(status=status, error=message)
    write_results(out_dir, record)
    return record
