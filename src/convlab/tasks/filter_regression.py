"""Filter regression: a conv layer learns the kernel that turned a photo into its filtered copy (experiment=sobel).

The loss is the MSE between the layer's output and the target; since both are linear in the kernel, the
problem is a least-squares fit of 9 numbers and its answer is the target kernel itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from convlab.errors import DivergedError
from convlab.runfiles.results import RunRecord
from convlab.tasks.base import OptimizerFactory, SchedulerFactory, Task

MSE_GOAL = 1e-6  # the experiment's acceptance level; results.json records the step from which the MSE stays below


@contextmanager
def _fast_cpu_conv() -> Iterator[None]:
    # oneDNN's kernels for a 1-channel conv on one large image are 3-5x slower per step than ATen's own
    # (forward and weight gradient); the switch only affects CPU tensors. (torch.backends.mkldnn.flags would
    # also reset oneDNN's deterministic and TF32 settings.)
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def steps_to_stay_below(history: list[float], final: float | None, goal: float) -> int | None:
    """The first step count from which the MSE stays <= goal to the end (momentum can dip below and back)."""
    if final is None or final > goal:
        return None
    settled = len(history)  # history[s] is the MSE after s steps; ``final`` is the one after the last step
    while settled > 0 and history[settled - 1] <= goal:
        settled -= 1
    return settled


class FilterRegression(Task):
    """Fits ``model`` (one conv, see convlab.models.SobelNet) to a full-batch (image, filtered image) pair.

    Keeps what the pictures and results.json need: the MSE of every step, the model's output every
    ``snapshot_every`` steps (and at the start and end), and the final kernel against ``target_kernel``.
    """

    task_kind = "filter"

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: OptimizerFactory,
        target_kernel: torch.Tensor,
        scheduler: SchedulerFactory | None = None,
        target_name: str = "",
        held_out_image: str | None = None,
        snapshot_every: int = 200,
        seed: int = 0,
        example_input: torch.Tensor | None = None,
    ) -> None:
        super().__init__(model, loss, optimizer, scheduler, seed, example_input)
        self.target_kernel = target_kernel.detach().cpu().float()
        self.target_name, self.held_out_image = target_name, held_out_image
        self.snapshot_every = max(1, int(snapshot_every))
        self.mse_history: list[float] = []
        self.snapshots: list[tuple[int, torch.Tensor]] = []  # (steps taken, model output on the training image)
        self.target_image: torch.Tensor | None = None
        self._train_input: torch.Tensor | None = None  # the photo, for the output after the last step
        self._step_losses: list[torch.Tensor] = []
        self._log_max_abs_error = False
        self._test_mse: dict[int, float] = {}

    @property
    def kernel(self) -> torch.Tensor:
        return self.model.kernel.detach().cpu()

    def max_abs_error(self) -> float:
        return float((self.kernel - self.target_kernel).abs().max())

    # -- training: full-batch steps, dataset.steps_per_epoch of them per epoch -------------------------------
    def on_train_start(self) -> None:
        self._fit_start = time.perf_counter()

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        with _fast_cpu_conv():
            output = self.model(x)
        loss = self.loss_fn(output, y)
        step = self.global_step
        if self.device.type == "cpu" and not math.isfinite(loss.item()):  # a sync: free on CPU only
            raise DivergedError(step, loss.item())
        if step % self.snapshot_every == 0:
            self.snapshots.append((step, output.detach()[0, 0].cpu()))
        if self.target_image is None:
            self.target_image, self._train_input = y.detach()[0, 0].cpu(), x
        self._step_losses.append(loss.detach())
        if (step + 1) % self.trainer.log_every_n_steps == 0:  # the steps Lightning writes logs at: log only then
            self.log("train/mse", loss, on_step=True, on_epoch=False, prog_bar=True)
            self._log_max_abs_error = True
        self.train_samples += x.shape[0]
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._log_max_abs_error:  # after the optimizer step, like the MSE of the next step
            self.log("train/max_abs_error", self.max_abs_error(), on_step=True, on_epoch=False)
            self._log_max_abs_error = False

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        with _fast_cpu_conv():
            super().backward(loss, *args, **kwargs)

    def on_train_end(self) -> None:
        self.train_loop_seconds = time.perf_counter() - self._fit_start
        losses = torch.stack(self._step_losses).tolist() if self._step_losses else []
        self.mse_history.extend(losses)
        self._step_losses.clear()
        if self._train_input is not None and (not self.snapshots or self.snapshots[-1][0] != self.global_step):
            with torch.no_grad(), _fast_cpu_conv():
                self.snapshots.append((self.global_step, self.model(self._train_input)[0, 0].cpu()))

    # -- test: the final kernel on the training photo (batch 0) and the held-out photo (batch 1) -------
    def on_test_epoch_start(self) -> None:
        self._test_mse, self.test_results = {}, None

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        with _fast_cpu_conv():
            self._test_mse[batch_idx] = float(self.loss_fn(self.model(x), y))

    def on_test_epoch_end(self) -> None:
        mse = self._test_mse[0]
        self.test_results = {"loss": mse, "mse": mse, "max_abs_error": self.max_abs_error()}
        if 1 in self._test_mse:
            self.test_results["held_out"] = {"image": self.held_out_image, "mse": self._test_mse[1]}
        self.log_dict({"test/mse": mse, "test/max_abs_error": self.test_results["max_abs_error"]})

    def extra_results(self) -> dict[str, Any]:
        """The results.json "filter" key: the learned kernel against the target, after the final step."""
        test = self.test_results or {}
        final = test.get("mse")
        return {
            "filter": {
                "kernel": self.kernel.tolist(),
                "target": self.target_kernel.tolist(),
                "target_name": self.target_name,
                "max_abs_error": self.max_abs_error(),
                "mse": test.get("mse"),
                "held_out_mse": (test.get("held_out") or {}).get("mse"),
                # None when this process only tested (eval.py): it took no steps itself
                "steps": int(self.global_step) if self.mse_history else None,
                "seconds": round(self.train_loop_seconds, 3) if self.mse_history else None,
                "mse_goal": MSE_GOAL,
                "steps_to_mse_goal": steps_to_stay_below(self.mse_history, final, MSE_GOAL),
            }
        }

    def write_outputs(self, out_dir: Path, record: RunRecord) -> None:
        """mse_curve.csv, mse_curve.png and evolution.png (only after training)."""
        from convlab.report.filter_outputs import evolution_png, mse_curve_csv, mse_curve_png

        final = (record.get("filter") or {}).get("mse")
        curve = self.mse_history + ([final] if final is not None else [])  # curve[s]: MSE after s steps
        if self.mse_history:
            mse_curve_csv(curve, out_dir / "mse_curve.csv")
            mse_curve_png(curve, out_dir / "mse_curve.png", goal=MSE_GOAL, title=self.target_name)
        if self.snapshots and self.target_image is not None:
            evolution_png(self.snapshots, curve, self.target_image, out_dir / "evolution.png")

    # -- checkpoints ---------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Plain containers only: the checkpoint must load with torch.load(weights_only=True).
        checkpoint["convlab"] = {**self.checkpoint_meta, "target_kernel": self.target_kernel.tolist()}
