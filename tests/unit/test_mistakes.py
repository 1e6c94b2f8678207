"""The mistakes gallery: only wrong predictions, most confident first, drawn from predictions.npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from convlab.report.mistakes import mistake_captions, mistakes_png
from convlab.runfiles.predictions import most_confident_mistakes, read_predictions, write_predictions

LABEL = np.array([0, 1, 2, 1, 0, 2])
PRED = np.array([0, 2, 2, 0, 1, 2])  # wrong at 1, 3, 4
PROB = np.array([0.99, 0.6, 0.95, 0.9, 0.6, 0.5], dtype=np.float32)


def test_selection_is_wrong_only_most_confident_first_ties_in_order() -> None:
    assert most_confident_mistakes(LABEL, PRED, PROB, limit=10).tolist() == [3, 1, 4]
    assert most_confident_mistakes(LABEL, PRED, PROB, limit=2).tolist() == [3, 1]
    assert most_confident_mistakes(LABEL, LABEL, PROB, limit=10).tolist() == []


def test_gallery_is_drawn_from_the_file(tmp_path: Path) -> None:
    images = np.arange(6 * 28 * 28, dtype=np.int64).reshape(6, 28, 28).astype(np.uint8)
    write_predictions(tmp_path, LABEL, PRED, PROB, images, "sha256:test")
    found = read_predictions(tmp_path)
    assert np.array_equal(found.mistake_images[0], images[3][None])  # N x H x W given: one channel
    names = ["zero", "one", "two"]
    assert mistake_captions(found, names, limit=32) == [
        "true one → pred zero (p=0.90)",
        "true one → pred two (p=0.60)",
        "true zero → pred one (p=0.60)",
    ]
    path = mistakes_png(found, names, tmp_path / "mistakes.png")
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > 200


def test_a_run_without_mistakes_gets_a_figure_that_says_so(tmp_path: Path) -> None:
    write_predictions(tmp_path, LABEL, LABEL, PROB, np.zeros((6, 28, 28), np.uint8), "sha256:test")
    found = read_predictions(tmp_path)
    assert mistake_captions(found, ["a", "b", "c"], limit=32) == []
    with Image.open(mistakes_png(found, ["a", "b", "c"], tmp_path / "mistakes.png")) as png:
        assert png.format == "PNG"
