"""Galleries from predictions.npz: each top job's most confident mistakes, and the test images most jobs get wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convlab.report import figures  # figures.save: tests look inside each figure
from convlab.report.compare import Comparison, Job
from convlab.report.figures import Picture
from convlab.report.mistakes import image_grid

SHOWN_JOBS = 3  # galleries in view; the next FOLDED_JOBS are folded away, the rest not drawn
FOLDED_JOBS = 6
PER_GALLERY = 10
HARD_EXAMPLES = 12


def _short(name: str) -> str:
    return name if len(name) <= 9 else name[:8] + "…"


def _strip(images: Sequence[np.ndarray], titles: Sequence[str], path: Path, tile_inches: float) -> Path:
    """Images side by side (convlab.report.mistakes.image_grid, one row), a two-line caption under each."""
    fig = image_grid(
        images, titles, cols=len(images), cell_inches=(tile_inches, tile_inches + 0.45), caption_lines=2, fontsize=7
    )
    return figures.save(fig, path)


def _class_name(job: Job, c: int) -> str:
    names = job.get("class_names") or []
    return _short(str(names[c])) if 0 <= c < len(names) else str(c)


def job_galleries(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """The best jobs by validation accuracy: their most confident wrong test predictions, as the run kept them."""
    found = comparison.files.predictions
    jobs = [j for j in comparison.finished if j.run_dir in found and len(found[j.run_dir].mistake_index)]
    jobs.sort(key=lambda j: -(j.val_acc if j.val_acc is not None else -1.0))
    pictures = []
    for n, job in enumerate(jobs[: SHOWN_JOBS + FOLDED_JOBS]):
        p = found[job.run_dir]
        k = min(PER_GALLERY, len(p.mistake_index))
        position = {int(i): pos for pos, i in enumerate(p.index)}  # sample index -> row of the arrays
        rows = [position[int(i)] for i in p.mistake_index[:k]]
        titles = [
            f"true {_class_name(job, int(p.label[r]))}\n→ {_class_name(job, int(p.pred[r]))} {float(p.prob[r]):.2f}"
            for r in rows
        ]
        path = _strip(list(p.mistake_images[:k]), titles, out_dir / "mistakes" / f"job_{n + 1:02d}.png", 0.9)
        caption = (
            f"job {comparison.number(job)} {comparison.label(job)} (val acc {job.val_acc:.4f}): its {k} most confident "
            "wrong test predictions: true class → predicted, with the predicted class's probability."
        )
        pictures.append(Picture(path, caption, "mistakes", folded=n >= SHOWN_JOBS))
    if len(jobs) > SHOWN_JOBS + FOLDED_JOBS:
        comparison.figure_notes.append(
            f"Mistake galleries are drawn for the {SHOWN_JOBS + FOLDED_JOBS} best jobs by validation accuracy; "
            f"the other {len(jobs) - SHOWN_JOBS - FOLDED_JOBS} keep theirs in their predictions.npz."
        )
    return pictures


def hard_examples(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """The test images most jobs get wrong, counted over the largest set of jobs tested on the same samples."""
    found = comparison.files.predictions
    by_test_set: dict[str, list[Job]] = {}
    for job in comparison.finished:
        if job.run_dir in found:
            by_test_set.setdefault(found[job.run_dir].fingerprint, []).append(job)
    jobs = max(by_test_set.values(), key=len, default=[])
    if len(jobs) < 2 or len({len(found[j.run_dir]) for j in jobs}) != 1:
        return []
    wrong = np.zeros(len(found[jobs[0].run_dir]), dtype=np.int32)
    for job in jobs:
        wrong += ~comparison.files.correct_by_index(job.run_dir)
    images: dict[int, np.ndarray] = {}
    for job in jobs:  # any job's kept image of a sample will do: the test set is the same
        p = found[job.run_dir]
        for i, image in zip(p.mistake_index.tolist(), p.mistake_images, strict=True):
            images.setdefault(i, image)
    order = [int(i) for i in np.argsort(-wrong, kind="stable") if wrong[i] > 0 and int(i) in images]
    chosen = order[:HARD_EXAMPLES]
    if not chosen:
        return []
    titles = []
    for i in chosen:
        labels, preds = Counter(), Counter()
        for job in jobs:
            p = found[job.run_dir]
            row = int(np.flatnonzero(p.index == i)[0]) if p.index[i] != i else i
            labels[int(p.label[row])] += 1
            if p.pred[row] != p.label[row]:
                preds[int(p.pred[row])] += 1
        true, mostly = labels.most_common(1)[0][0], preds.most_common(1)[0][0]
        job = jobs[0]
        titles.append(
            f"wrong in {wrong[i]}/{len(jobs)} jobs\ntrue {_class_name(job, true)}, mostly {_class_name(job, mostly)}"
        )
    path = _strip([images[i] for i in chosen], titles, out_dir / "mistakes" / "hard_examples.png", 1.1)
    caption = (
        f"The test images most often misclassified across the {len(jobs)} jobs tested on the same samples, "
        "with the class they were most often taken for."
    )
    return [Picture(path, caption, "mistakes")]


def mistake_galleries(comparison: Comparison, out_dir: Path) -> list[Picture]:
    if comparison.files.predictions:
        (out_dir / "mistakes").mkdir(parents=True, exist_ok=True)
    return [*hard_examples(comparison, out_dir), *job_galleries(comparison, out_dir)]
