"""TensorBoard extras at the end of a job: the confusion matrix and mistakes as images, and an HParams row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convlab.config.overrides import is_deletion, override_key, override_value, typed_value
from convlab.report.mistakes import MISTAKES_NAME
from convlab.runfiles.results import RunRecord


def log_tensorboard_results(logger: Any, record: RunRecord, run_dir: Path) -> None:
    """The confusion-matrix and mistakes images and the HParams row (the run's identity with its final metrics)."""
    from torchvision.io import ImageReadMode, read_image

    test = record.get("test") or {}
    step = int(record.get("epochs") or 0)
    for tag, name in (("test/confusion_matrix", "confusion_matrix.png"), ("test/mistakes", MISTAKES_NAME)):
        png = run_dir / name
        if png.is_file():
            logger.experiment.add_image(tag, read_image(str(png), ImageReadMode.RGB), step)
    metrics = {f"final/test_{k}": test[k] for k in ("acc", "f1_macro", "loss") if k in test}
    if (record.get("val") or {}).get("acc") is not None:
        metrics["final/val_acc"] = record["val"]["acc"]
    if metrics:
        logger.log_hyperparams(hparams_of(record), metrics=metrics)
    logger.experiment.flush()
    logger.experiment.close()


def hparams_of(record: RunRecord) -> dict[str, Any]:
    """The run's identity for TensorBoard's HParams table: group choices, seed, params and every override."""
    hp: dict[str, Any] = {k: record.get(k) for k in ("dataset", "model", "optim", "loss", "seed", "params")}
    for override in record.get("overrides") or []:
        if not is_deletion(override):  # ~key deletes a node: no value to show
            hp[override_key(override)] = _scalar(typed_value(override), override_value(override))
    return {k: v for k, v in hp.items() if v is not None}


def _scalar(value: Any, text: str | None) -> Any:
    """An override's value as TensorBoard can sort it: numbers and booleans typed, anything else as text."""
    return value if isinstance(value, (bool, int, float, str)) else text
