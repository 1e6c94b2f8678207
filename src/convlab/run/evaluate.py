"""Re-test a trained model (``python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt``).

The model is rebuilt from the config that trained it (<run dir>/.hydra/config.yaml, or the copy kept
in the checkpoint), its weights loaded with weights_only=True, and the test split evaluated again.
results.json, with the same test fields as training's, goes into a new directory under outputs/evals/,
with predictions.npz, confusion_matrix.png and mistakes.png beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, open_dict

from convlab.checkpoints.load import load_checkpoint, run_dir_of, training_config
from convlab.config.checks import check_config
from convlab.config.overrides import GROUPS
from convlab.errors import CheckpointError
from convlab.run.environment import setup_runtime
from convlab.run.record import describe_run, model_figures, record_test, write_run
from convlab.runfiles.results import RunRecord


def evaluate(eval_cfg: DictConfig) -> RunRecord:
    """Test ``eval_cfg.ckpt_path`` on its run's test split; results.json in ``eval_cfg.paths.output_dir``."""
    from convlab.run.build import build_datamodule, build_task, build_trainer

    ckpt_path = Path(eval_cfg.ckpt_path)
    checkpoint = load_checkpoint(ckpt_path)
    cfg, choices, overrides = training_config(ckpt_path, checkpoint)
    out_dir = Path(eval_cfg.paths.output_dir)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)  # outputs of this evaluation go to its own directory
        cfg.ckpt_path = None  # what training resumed from, if anything: not this evaluation's concern
    check_config(cfg)
    record = describe_run(cfg)
    record.update({g: choices[g] for g in GROUPS if g in choices}, overrides=overrides)
    setup_runtime(cfg)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, datamodule)
    try:
        task.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as e:
        raise CheckpointError(
            f"{ckpt_path}: weights do not fit the model of its config ({str(e).splitlines()[0]})"
        ) from None
    record.update(model_figures(task, datamodule), epochs=checkpoint.get("epoch", 0) + 1)
    with open_dict(cfg):  # one process tests the whole split, however the run was trained
        cfg.trainer.pop("strategy", None)
        cfg.trainer.devices = 1
    # As train.py: a bar only in a terminal (in a log file its redraws would be lines of carriage returns).
    quiet = {"enable_checkpointing": False, "enable_model_summary": False, "enable_progress_bar": sys.stdout.isatty()}
    trainer = build_trainer(cfg, logger=False, callbacks=[], **quiet)
    trainer.test(task, datamodule=datamodule, verbose=False)
    record.update(checkpoint=str(ckpt_path.resolve()), evaluated_run=str(run_dir_of(ckpt_path)))
    record_test(record, task)
    write_run(out_dir, record, task)
    return record
