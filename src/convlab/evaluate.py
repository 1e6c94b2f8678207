"""``python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt``: re-test a trained model.

The model is rebuilt from the config that trained it (<run dir>/.hydra/config.yaml, or the copy kept
in the checkpoint), its weights loaded with weights_only=True, and the test split evaluated again.
results.json, with the same test fields as training's, goes into a new directory under outputs/evals/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from convlab.checkpoints import load_checkpoint, run_dir_of
from convlab.cli import run_cli
from convlab.errors import CheckpointError, ConfigError
from convlab.runtime import CONFIG_DIR, setup_runtime


def training_config(ckpt_path: Path, checkpoint: dict[str, Any]) -> tuple[DictConfig, dict[str, str], list[str]]:
    """The training run's config, group choices and overrides."""
    run_dir = run_dir_of(ckpt_path)
    stored = checkpoint.get("convlab") or {}
    hydra_dir = run_dir / ".hydra"
    if (hydra_dir / "config.yaml").is_file():
        cfg = OmegaConf.load(hydra_dir / "config.yaml")
        hydra_cfg = OmegaConf.load(hydra_dir / "hydra.yaml").hydra if (hydra_dir / "hydra.yaml").is_file() else None
        choices = dict(hydra_cfg.runtime.choices) if hydra_cfg is not None else {}
        overrides = list(hydra_cfg.overrides.task) if hydra_cfg is not None else []
    elif stored.get("config"):
        cfg = OmegaConf.create(stored["config"])
        choices, overrides = stored.get("choices", {}), stored.get("overrides", [])
    else:
        raise CheckpointError(f"{ckpt_path}: no {hydra_dir / 'config.yaml'} and no config inside the checkpoint")
    return cfg, {k: str(v) for k, v in choices.items() if v is not None}, overrides


def evaluate(eval_cfg: DictConfig) -> dict[str, Any]:
    from convlab.build import build_datamodule, build_task, build_trainer
    from convlab.config_checks import GROUPS, check_config
    from convlab.models import count_parameters
    from convlab.runtime import describe_run
    from convlab.train import _extra_results, _write_outputs

    ckpt_path = Path(eval_cfg.ckpt_path)
    checkpoint = load_checkpoint(ckpt_path)
    cfg, choices, overrides = training_config(ckpt_path, checkpoint)
    out_dir = Path(eval_cfg.paths.output_dir)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)  # outputs of this evaluation go to its own directory
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
    with open_dict(cfg):
        cfg.trainer.pop("strategy", None)
        cfg.trainer.devices = 1
    trainer = build_trainer(cfg, logger=False, callbacks=[], enable_checkpointing=False, enable_model_summary=False)
    trainer.test(task, datamodule=datamodule, verbose=False)
    record.update(
        status="ok",
        params=count_parameters(task.model),
        epochs=checkpoint.get("epoch", 0) + 1,
        checkpoint=str(ckpt_path.resolve()),
        evaluated_run=str(run_dir_of(ckpt_path)),
        test=task.test_results,
        **datamodule.describe(),
        **_extra_results(task),
    )
    _write_outputs(out_dir, record, trainer, task)
    return record


def _check_eval(cfg: DictConfig) -> None:
    if OmegaConf.is_missing(cfg, "ckpt_path"):
        raise ConfigError("ckpt_path has no value: python eval.py ckpt_path=<run dir>/checkpoints/last.ckpt")
    path = Path(str(cfg.ckpt_path))
    if not path.is_file():
        raise ConfigError(f"ckpt_path={path}: no such file (expected <run dir>/checkpoints/last.ckpt)")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _hydra_main(cfg: DictConfig) -> None:
    from convlab.train import run_job

    run_job(evaluate, cfg)


def main() -> None:
    run_cli(_hydra_main, "eval", extra_check=_check_eval)
