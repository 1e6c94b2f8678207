"""The Hydra callback (conf/hydra/default.yaml) that writes the comparison report when a multirun ends.

Runs in the launching process after every job has returned, whatever the launcher (basic, joblib,
submitit) or sweeper (basic, Optuna). Imported by Hydra at start-up: heavy imports stay inside.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from convlab.errors import ConvlabError

log = logging.getLogger(__name__)


class ComparisonReport(Callback):
    """Writes comparison.csv/.md, the plots and report.html into the sweep directory."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from convlab.report.compare import optuna_notes
        from convlab.report.comparison_report import REPORT_HTML, write_comparison_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            written = write_comparison_report([sweep_dir], sweep_dir)
        except ConvlabError as e:  # e.g. a foreign results.json: say so, the jobs' own files stand
            log.error("no comparison report for %s: %s", sweep_dir, e)
            return
        for note in optuna_notes([sweep_dir]):  # the Optuna sweeper's verdict, also in the report
            print(note, flush=True)
        print(f"comparison report  {written[REPORT_HTML]}", flush=True)
        print(f"resume this sweep  {resume_command(config, sweep_dir)}", flush=True)


def resume_command(config: DictConfig, sweep_dir: Path) -> str:
    """The command line that re-runs this multirun in place, skipping the jobs that finished ok."""
    from convlab.sweeps.skip_done import resume_sweep_command

    task = OmegaConf.to_container(config.hydra.overrides.task)
    hydra = OmegaConf.to_container(config.hydra.overrides.hydra)  # hydra.mode: Hydra's record of -m, dropped
    return resume_sweep_command([*task, *hydra], sweep_dir)
