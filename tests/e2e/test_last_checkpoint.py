"""checkpoints/last.ckpt is the state at the end of training, and at every epoch end, whatever the monitored
metric did (pytorch-lightning 2.6's ModelCheckpoint alone rewrites it only when a new best is saved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from helpers import QUICK, run_cli

import convlab.run.build
from convlab.run.train import train
from convlab.runfiles.results import read_results

# Three epochs of three batches; "best" is the LOWEST validation accuracy, so the best epoch is an early one
# and every later epoch ends without a new best: exactly the case where last.ckpt used to go stale.
WORST_IS_BEST = [
    *(o for o in QUICK if "max_epochs" not in o and "limit_train" not in o),
    "trainer.max_epochs=3",
    "++trainer.limit_train_batches=3",
    "model=mlp",
    "callbacks.model_checkpoint.mode=min",
]


class LastCheckpointProbe(pl.Callback):
    """Reads last.ckpt at the start of every epoch after the first and at the end of fit: what a kill would leave."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def _read(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        ckpt = torch.load(self.path, weights_only=True)
        same = all(torch.equal(ckpt["state_dict"][k], v) for k, v in pl_module.state_dict().items())
        self.seen.append((trainer.global_step, ckpt["global_step"], same))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch > 0:
            self._read(trainer, pl_module)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._read(trainer, pl_module)


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Adds a LastCheckpointProbe to the run's callbacks and keeps the task train() builds."""
    seen: dict[str, Any] = {}
    build_task, build_callbacks = convlab.run.build.build_task, convlab.run.build.build_callbacks

    def keep_task(*args: Any, **kwargs: Any) -> Any:
        seen["task"] = build_task(*args, **kwargs)
        return seen["task"]

    def with_probe(cfg: Any, **kwargs: Any) -> list[pl.Callback]:
        seen["probe"] = LastCheckpointProbe(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
        return [*build_callbacks(cfg, **kwargs), seen["probe"]]

    monkeypatch.setattr(convlab.run.build, "build_task", keep_task)
    monkeypatch.setattr(convlab.run.build, "build_callbacks", with_probe)
    return seen


def test_last_ckpt_is_the_final_state_when_the_best_epoch_is_not_the_last(
    compose_cfg, capture: dict[str, Any], tmp_path: Path
) -> None:
    cfg = compose_cfg(WORST_IS_BEST)
    record = train(cfg)
    run_dir = Path(cfg.paths.output_dir)
    results = read_results(run_dir)
    assert results["status"] == "ok" and results["epochs"] == 3 and results["steps"] == 9
    last, best = run_dir / "checkpoints" / "last.ckpt", run_dir / "checkpoints" / "best.ckpt"
    assert results["checkpoints"] == {"last": str(last), "best": str(best)}

    last_ckpt = torch.load(last, weights_only=True)  # also proves it loads weights-only
    best_ckpt = torch.load(best, weights_only=True)
    assert best_ckpt["global_step"] < results["steps"], "the test needs a run whose best epoch is not the last"
    assert last_ckpt["global_step"] == results["steps"] and last_ckpt["epoch"] == results["epochs"] - 1
    final = capture["task"].state_dict()
    assert last_ckpt["state_dict"].keys() == final.keys()
    assert all(torch.equal(last_ckpt["state_dict"][k], v) for k, v in final.items())
    assert not all(torch.equal(best_ckpt["state_dict"][k], v) for k, v in final.items())
    # At every epoch start (what a kill mid-epoch leaves for a resume) and at the end, last.ckpt held the
    # current weights and step.
    assert capture["probe"].seen == [(3, 3, True), (6, 6, True), (9, 9, True)]
    assert not list(last.parent.glob(".*.tmp"))  # written atomically: no temp file left

    proc = run_cli("eval.py", f"ckpt_path={last}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (eval_dir,) = (tmp_path / "outputs" / "evals").iterdir()
    assert read_results(eval_dir)["test"] == results["test"] == record["test"]


def test_last_ckpt_is_written_at_the_end_of_a_run_that_stops_mid_epoch(compose_cfg, capture: dict[str, Any]) -> None:
    cfg = compose_cfg([*WORST_IS_BEST, "++trainer.max_steps=5"])  # stops in the second epoch, before its end
    results = train(cfg)
    assert results["steps"] == 5
    last_ckpt = torch.load(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=True)
    assert last_ckpt["global_step"] == 5
    final = capture["task"].state_dict()
    assert all(torch.equal(last_ckpt["state_dict"][k], v) for k, v in final.items())
