"""predictions.npz: a classification run's per-sample test predictions, beside its results.json.

One row per test sample, in the test split's order: ``index`` (the sample's position in the test split),
``label``, ``pred`` (the predicted class) and ``prob`` (the softmax probability of the predicted class).
``fingerprint`` names the test set (a hash of its images and labels), so a report knows which jobs were
tested on the same samples and may be compared sample by sample. ``mistake_index``/``mistake_images``
keep the images (uint8 K x C x H x W, as stored in the dataset) of the most confident wrong predictions, most
confident first, so galleries can be drawn without the dataset. Files written before channels hold K x H x W;
they read as K x 1 x H x W. results.json names the file (``predictions``) and
repeats the fingerprint (``test.fingerprint``).
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convlab.errors import ConvlabError
from convlab.fileio import atomic_write

PREDICTIONS_NAME = "predictions.npz"
MAX_MISTAKE_IMAGES = 1000  # enough for any gallery; bounds the file of a run near chance
_ARRAYS = ("index", "label", "pred", "prob")


@dataclass
class Predictions:
    index: np.ndarray  # int32 (N,)
    label: np.ndarray  # int16 (N,)
    pred: np.ndarray  # int16 (N,)
    prob: np.ndarray  # float32 (N,): probability of the predicted class
    fingerprint: str
    mistake_index: np.ndarray  # int32 (K,), most confident wrong prediction first
    mistake_images: np.ndarray  # uint8 (K, C, H, W)

    @property
    def correct(self) -> np.ndarray:
        return self.label == self.pred

    def __len__(self) -> int:
        return len(self.index)


def test_set_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """A short hash of the test images and labels (shape, dtype and bytes): equal iff the test sets are."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(images), np.ascontiguousarray(labels)):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()[:16]


def with_channel_axis(images: np.ndarray) -> np.ndarray:
    """K x H x W (grayscale, as files before channels held) -> K x 1 x H x W; K x C x H x W as is."""
    return images[:, None] if images.ndim == 3 else images


def displayable(image: np.ndarray) -> np.ndarray:
    """An image as matplotlib draws it: H x W for one channel, H x W x 3 for RGB (from C x H x W or H x W)."""
    if image.ndim == 2:
        return image
    if image.shape[0] == 1:
        return image[0]
    return np.ascontiguousarray(np.moveaxis(image[:3], 0, -1))


def most_confident_mistakes(label: np.ndarray, pred: np.ndarray, prob: np.ndarray, limit: int) -> np.ndarray:
    """Positions of wrong predictions, most confident first (ties: lower position first); at most ``limit``."""
    wrong = np.flatnonzero(label != pred)
    order = np.argsort(-prob[wrong], kind="stable")
    return wrong[order][:limit]


def write_predictions(
    run_dir: str | Path,
    label: np.ndarray,
    pred: np.ndarray,
    prob: np.ndarray,
    test_images: np.ndarray,
    fingerprint: str,
) -> Path:
    """Write predictions.npz (atomically) for a test set in its split order; return its path."""
    label, pred = np.asarray(label, np.int16), np.asarray(pred, np.int16)
    prob = np.asarray(prob, np.float32)
    if not (len(label) == len(pred) == len(prob) == len(test_images)):
        raise ValueError(f"predictions of unequal length: {len(label)}, {len(pred)}, {len(prob)}, {len(test_images)}")
    mistakes = most_confident_mistakes(label, pred, prob, MAX_MISTAKE_IMAGES)
    arrays = {
        "index": np.arange(len(label), dtype=np.int32),
        "label": label,
        "pred": pred,
        "prob": prob,
        "fingerprint": np.array(fingerprint),
        "mistake_index": mistakes.astype(np.int32),
        "mistake_images": with_channel_axis(np.asarray(test_images)[mistakes].astype(np.uint8)),
    }

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to the temp name
            np.savez_compressed(f, **arrays)

    return atomic_write(Path(run_dir) / PREDICTIONS_NAME, write)


def read_predictions(path: str | Path) -> Predictions:
    """Read a predictions.npz (or the one in a run directory); ConvlabError if missing or not valid."""
    path = Path(path)
    if path.is_dir():
        path = path / PREDICTIONS_NAME
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in (*_ARRAYS, "fingerprint", "mistake_index", "mistake_images") if k not in data]
            if missing:
                raise ConvlabError(f"{path}: not a convlab predictions file (missing {', '.join(missing)})")
            found = Predictions(
                index=data["index"],
                label=data["label"],
                pred=data["pred"],
                prob=data["prob"],
                fingerprint=str(data["fingerprint"]),
                mistake_index=data["mistake_index"],
                mistake_images=with_channel_axis(data["mistake_images"]),
            )
    except FileNotFoundError:
        raise ConvlabError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ConvlabError(f"{path}: not a readable predictions file ({e})") from None
    lengths = {len(getattr(found, k)) for k in _ARRAYS}
    if len(lengths) != 1 or len(found.mistake_index) != len(found.mistake_images):
        raise ConvlabError(f"{path}: corrupt predictions file (arrays of unequal length)")
    return found
