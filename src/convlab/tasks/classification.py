"""Classification: model + loss + optimizer factory + torchmetrics, with cheap per-step logging."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from convlab.errors import DivergedError
from convlab.report.intervals import wilson_interval
from convlab.runfiles.history import HISTORY_NAME, write_history
from convlab.runfiles.predictions import PREDICTIONS_NAME, read_predictions, write_predictions
from convlab.runfiles.results import RunRecord
from convlab.tasks.base import OptimizerFactory, SchedulerFactory, Task

log = logging.getLogger(__name__)


class ClassificationTask(Task):
    """Trains a classifier and, at test end, leaves every figure results.json needs in ``test_results``.

    Keeps one history row per epoch (rewriting history.csv in ``run_dir``) and, at test end, every test
    sample's label, predicted class and its probability, for predictions.npz and the mistakes gallery.

    Training statistics are accumulated on the device and logged once per epoch; the step loss is
    logged only every ``trainer.log_every_n_steps`` steps. Logging a metric object every step costs
    a few ms per step, a large share of a small model's step time.
    """

    task_kind = "classification"

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: OptimizerFactory,
        class_names: Sequence[str],
        scheduler: SchedulerFactory | None = None,
        seed: int = 0,
        example_input: torch.Tensor | None = None,
    ) -> None:
        super().__init__(model, loss, optimizer, scheduler, seed, example_input)
        self.class_names = list(class_names)
        # Test metrics are made at test start and kept in a plain dict, outside the module tree, so the
        # model summary lists the model's layers rather than metric objects.
        self._metrics: dict[str, MetricCollection] = {}
        self._sums: dict[str, torch.Tensor] = {}
        self._epoch_val: dict[str, float] | None = None  # this epoch's validation, for its history row
        self._test_outputs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        # (label, pred, prob, test images) on rank zero after a test over the whole test split
        self.test_predictions: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- running sums (loss * n, correct, n) kept on the device: no host sync per step --------------
    def _accumulate(self, stage: str, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        sums = self._sums.get(stage)
        if sums is None:
            sums = self._sums[stage] = loss.new_zeros(3)
        # In place, the same arithmetic as a sum of stacked rows at about half the small ops: this runs every step.
        sums[0].add_(loss.detach() * y.shape[0])
        sums[1].add_((logits.argmax(1) == y).sum())
        sums[2].add_(y.shape[0])

    def _log_epoch(self, stage: str, prog_bar: bool = False) -> tuple[float, float] | None:
        """Log the epoch's loss and accuracy over all ranks; return them."""
        stats = self._sums.pop(stage, None)
        if stats is None:
            return None
        stats = self.all_gather(stats).reshape(-1, 3).sum(0) if self.trainer.world_size > 1 else stats
        loss_sum, correct, n = stats.tolist()
        self.log_dict({f"{stage}/loss": loss_sum / n, f"{stage}/acc": correct / n}, prog_bar=prog_bar)
        return loss_sum / n, correct / n

    # -- training -------------------------------------------------------------------------------------
    def on_train_start(self) -> None:
        self._fit_start = time.perf_counter()
        # A resumed run's history goes on from the seconds the run it resumes had taken.
        self._seconds_before = float(self.history[-1].get("seconds") or 0) if self.history else 0.0
        # A run resumed from a mid-epoch checkpoint (saved on Ctrl-C) enters its epoch without on_train_epoch_start.
        self.on_train_epoch_start()
        self._restore_train_sums()

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        self._last_batch_end = self._epoch_start

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Reseed every step so dropout draws depend only on (seed, step): a resumed run matches an
        # uninterrupted one bit for bit. (Per epoch is not enough: Lightning's loops draw from the global
        # generator, e.g. for the data loader's base seed, at points that differ after a restart.)
        # Only this device's generator: torch.manual_seed seeds every backend and costs ~0.5 ms a step.
        seed = self.seed * 2**32 + self.global_step
        torch.default_generator.manual_seed(seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed(seed)
        elif self.device.type != "cpu":
            torch.manual_seed(seed)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        step = self.global_step
        log_now = (step + 1) % self.trainer.log_every_n_steps == 0  # the steps Lightning writes logs at
        # A finiteness check syncs with the device: free on CPU, so every step there; elsewhere when logging
        # (and at epoch end, from the epoch's loss sum).
        if log_now or self.device.type == "cpu":
            self._stop_if_diverged(loss, step)
        if log_now:
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False)
        self._accumulate("train", loss, logits, y)
        self.train_samples += y.shape[0]
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._last_batch_end = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        # Time only the training batches, not the validation run that Lightning nests before this hook.
        self.train_loop_seconds += self._last_batch_end - self._epoch_start
        epoch = self._log_epoch("train")
        self._add_history_row(epoch)  # before the divergence check: a diverged run keeps its last epoch's row
        if epoch is not None:  # the same summed value on every rank: they all stop together
            self._stop_if_diverged(torch.tensor(epoch[0]), self.global_step - 1, collective=False)

    def _add_history_row(self, train: tuple[float, float] | None) -> None:
        """This epoch's row (validation ran before this hook, inside the epoch); history.csv rewritten on rank 0."""
        val, self._epoch_val = self._epoch_val or {}, None
        self.history.append(
            {
                "epoch": self.current_epoch + 1,
                "step": self.global_step,
                "train_loss": train[0] if train else None,
                "train_acc": train[1] if train else None,
                "val_loss": val.get("loss"),
                "val_acc": val.get("acc"),
                "seconds": round(self._seconds_before + time.perf_counter() - self._fit_start, 3),
            }
        )
        if self.run_dir is not None and self.trainer.is_global_zero:
            write_history(self.run_dir, self.history)

    def _stop_if_diverged(self, loss: torch.Tensor, step: int, collective: bool = True) -> None:
        """Raise DivergedError on a NaN/inf loss. Under DDP every rank must decide alike: a rank that stopped
        alone would leave the others waiting forever in their next gradient all-reduce."""
        diverged = not math.isfinite(loss.detach().item())  # item(): a fraction of torch.isfinite's cost on CPU
        if collective and self.trainer.world_size > 1:
            diverged = self.trainer.strategy.reduce_boolean_decision(diverged, all=False)
        if diverged:
            raise DivergedError(step, loss.detach().item())

    # -- validation -----------------------------------------------------------------------------------
    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self._accumulate("val", self.loss_fn(logits, y), logits, y)

    def on_validation_epoch_end(self) -> None:
        epoch = self._log_epoch("val", prog_bar=True)
        if epoch is not None and not self.trainer.sanity_checking:  # the check before training is no epoch's
            self.val_results = self._epoch_val = {"loss": epoch[0], "acc": epoch[1]}

    # -- test -----------------------------------------------------------------------------------------
    def on_test_epoch_start(self) -> None:
        n = len(self.class_names)
        self._metrics["test"] = MetricCollection(
            {
                "acc": MulticlassAccuracy(n, average="micro"),
                "f1_macro": MulticlassF1Score(n, average="macro"),
                "precision": MulticlassPrecision(n, average="none"),
                "recall": MulticlassRecall(n, average="none"),
                "f1": MulticlassF1Score(n, average="none"),
                "confusion_matrix": MulticlassConfusionMatrix(n),
            }
        ).to(self.device)
        self.test_results, self.test_predictions, self._test_outputs = None, None, []

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self._accumulate("test", self.loss_fn(logits, y), logits, y)
        self._metrics["test"].update(logits, y)
        pred = logits.argmax(1)  # as the metrics decide: predictions.npz agrees with them exactly
        prob = logits.detach().float().softmax(1).gather(1, pred[:, None]).squeeze(1)
        self._test_outputs.append((y, pred, prob))  # kept on the device, joined once at epoch end

    def on_test_epoch_end(self) -> None:
        stats = self._sums.pop("test")
        if self.trainer.world_size > 1:
            stats = self.all_gather(stats).reshape(-1, 3).sum(0)
        loss_sum, _, n = stats.tolist()
        m = {k: v.cpu() for k, v in self._metrics.pop("test").compute().items()}  # synced across ranks
        correct = int(m["confusion_matrix"].trace())
        datamodule = self.trainer.datamodule  # a TensorDataModule: the config check pairs task and dataset kinds
        self.test_results = {
            "acc": float(m["acc"]),
            "acc_ci95": list(wilson_interval(correct, int(n))),
            "acc_ci_method": "wilson",
            "f1_macro": float(m["f1_macro"]),
            "loss": loss_sum / n,
            "samples": int(n),
            "per_class": {k: m[k].tolist() for k in ("precision", "recall", "f1")},
            "confusion_matrix": m["confusion_matrix"].long().tolist(),
            "fingerprint": datamodule.test_fingerprint(),
        }
        self._keep_predictions(datamodule.test.images)
        self.log_dict({f"test/{k}": self.test_results[k] for k in ("acc", "f1_macro", "loss")})

    def _keep_predictions(self, test_images: torch.Tensor) -> None:
        """Every test sample's (label, pred, prob) in the test split's order, on rank zero."""
        outputs = self._test_outputs
        self._test_outputs = []
        # One (3, n) float32 tensor (float64 is missing on some devices): class numbers are exact in it (< 2**24),
        # and DDP gathers it in one call.
        rows = torch.stack([torch.cat(parts).float() for parts in zip(*outputs, strict=True)]) if outputs else None
        if rows is None:
            rows = torch.zeros(3, 0, device=self.device)
        if self.trainer.world_size > 1:
            rows = self._gather_shards(rows)
        if not self.trainer.is_global_zero:
            return
        if rows.shape[1] != len(test_images):  # trainer.limit_test_batches: not the test set the fingerprint names
            log.warning("tested %d of %d test samples: no %s", rows.shape[1], len(test_images), PREDICTIONS_NAME)
            return
        label, pred, prob = rows.cpu().numpy()
        self.test_predictions = (label.astype(np.int64), pred.astype(np.int64), prob, test_images.cpu().numpy())

    def _gather_shards(self, rows: torch.Tensor) -> torch.Tensor:
        """Each rank's contiguous shard of the test split (see BatchIndexSampler), joined in rank order."""
        sizes = self.all_gather(torch.tensor(rows.shape[1], device=rows.device)).flatten().tolist()
        padded = rows.new_zeros(3, max(sizes))  # all_gather needs equal shapes on every rank
        padded[:, : rows.shape[1]] = rows
        gathered = self.all_gather(padded)  # (world, 3, longest)
        return torch.cat([gathered[rank, :, :size] for rank, size in enumerate(sizes)], dim=1)

    # -- outputs and checkpoints ----------------------------------------------------------------------
    def write_data(self, out_dir: Path) -> dict[str, Any]:
        """history.csv (after training) and predictions.npz (after a test of the whole test split)."""
        files: dict[str, Any] = {}
        if self.history:
            write_history(out_dir, self.history)
            files["history"] = HISTORY_NAME
        if self.test_predictions is not None and self.test_results:
            label, pred, prob, images = self.test_predictions
            write_predictions(out_dir, label, pred, prob, images, self.test_results["fingerprint"])
            files["predictions"] = PREDICTIONS_NAME
        return files

    def write_outputs(self, out_dir: Path, record: RunRecord) -> None:
        """confusion_matrix.png when the run was tested; mistakes.png from its predictions.npz."""
        from convlab.report.confusion import confusion_matrix_png
        from convlab.report.mistakes import MISTAKES_NAME, mistakes_png

        if record.get("test"):
            title = f"{record['dataset']} / {record['model']} / {record['optim']} / {record['loss']}"
            confusion_matrix_png(
                record["test"]["confusion_matrix"], record["class_names"], out_dir / "confusion_matrix.png", title=title
            )
        if record.get("predictions"):  # drawn from the file, so the gallery shows exactly what it holds
            mistakes_png(
                read_predictions(out_dir / record["predictions"]), record["class_names"], out_dir / MISTAKES_NAME
            )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Only plain containers go in: the checkpoint must load with torch.load(weights_only=True).
        checkpoint["convlab"] = {**self.checkpoint_meta, "class_names": self.class_names}
        if "train" in self._sums:  # the epoch's running sums: a mid-epoch resume's history row covers the whole epoch
            checkpoint["convlab"]["train_sums"] = self._sums["train"].tolist()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._loaded_train_sums = (checkpoint.get("convlab") or {}).get("train_sums")

    def _restore_train_sums(self) -> None:
        """Resumed inside an epoch (a SLURM requeue): go on from the sums of the batches trained before it."""
        sums, self._loaded_train_sums = getattr(self, "_loaded_train_sums", None), None
        epoch_loop = self.trainer.fit_loop.epoch_loop
        done = epoch_loop.batch_progress.current.completed
        if sums is not None and epoch_loop.restarting and 0 < done < self.trainer.num_training_batches:
            self._sums["train"] = torch.tensor(sums, dtype=torch.get_default_dtype(), device=self.device)
