"""``python scripts/reproduce.py [--seeds N] [overrides]``: the published presets, re-run and compared.

The presets (conf/experiment/lenet_tutorial.yaml, mlp_keras.yaml, cnn8_article.yaml) carry their published
figure under ``published``. They run as one Hydra multirun of ``train.py`` (every job is checked before the
first starts), each ``--seeds`` times (seed=0..N-1); each job's results.json gives the measured accuracy,
parameters and seconds. Per preset: the mean, the sample std and the 95% interval (Student's t) over the
seeds, and a verdict: *reproduced* when the published figure is within 0.5 percentage points of the mean or
inside that interval, else the gap. Then the MLP-vs-CNN comparison over the same runs, and the 8-layer CNN's
per-class precision/recall/F1 and confusion matrix. Printed and written, atomically, as reproduction.md in
the sweep directory; ``--from <sweep dir>`` re-writes it from a finished (or interrupted) sweep. The command
line that runs the presets: convlab.cli.reproduce.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from convlab.config import CONFIG_DIR
from convlab.config.overrides import values_of
from convlab.report.significance import t_interval
from convlab.runfiles.results import RESULTS_NAME, RunRecord, read_results

PRESETS = ("lenet_tutorial", "mlp_keras", "cnn8_article")
TOLERANCE = 0.005  # 0.5 percentage points


def preset_of(overrides: list[str]) -> str | None:
    return next(iter(values_of(overrides, "experiment")), None)


def collect_rows(sweep_dir: Path, presets: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per preset, in ``presets`` order: its jobs' records (one per seed, by seed) and published block."""
    found: dict[str, dict[str, Any]] = {p: {"preset": p, "records": [], "published": None} for p in presets}
    for results in sorted(sweep_dir.glob(f"*/{RESULTS_NAME}")):
        record = read_results(results)
        preset = preset_of(record["overrides"])
        if preset not in found:
            continue
        config = results.parent / ".hydra" / "config.yaml"
        if config.is_file():
            published = OmegaConf.load(config).get("published")
            found[preset]["published"] = OmegaConf.to_container(published) if published is not None else None
        found[preset]["records"].append({**record, "run_dir": str(results.parent)})
    for row in found.values():
        preset_file = Path(CONFIG_DIR) / "experiment" / f"{row['preset']}.yaml"
        if row["published"] is None and preset_file.is_file():  # not run (yet): the preset's own block
            published = OmegaConf.load(preset_file).get("published")
            row["published"] = OmegaConf.to_container(published) if published is not None else None
        row["records"].sort(key=lambda r: (r.get("seed") is None, r.get("seed")))
        row["record"] = row["records"][0] if row["records"] else None  # the first seed's: per-class tables
    return [found[p] for p in presets]


def accuracy_stats(accs: list[float]) -> dict[str, float | int | None]:
    """Mean, sample std and the comparison report's 95% Student-t interval of the mean, clipped to an accuracy's
    [0, 1] (std and interval None with one value)."""
    low, high = t_interval(accs, bounds=(0.0, 1.0)) or (None, None)
    std = statistics.stdev(accs) if len(accs) > 1 else None
    return {"n": len(accs), "mean": statistics.fmean(accs), "std": std, "low": low, "high": high}


def verdict(published: float | None, stats: dict[str, Any]) -> str:
    """'reproduced' (within 0.5 pp of the mean, or inside the 95% interval) or the gap, in percentage points."""
    if published is None:
        return "no published figure for this model"
    gap = (stats["mean"] - published) * 100
    inside = stats["low"] is not None and stats["low"] <= published <= stats["high"]
    if abs(gap) <= TOLERANCE * 100 + 1e-9 or inside:
        why = "within 0.5 pp of the mean" if abs(gap) <= TOLERANCE * 100 + 1e-9 else "inside the 95% interval"
        return f"**reproduced** ({gap:+.2f} pp, {why})"
    where = "above" if gap > 0 else "below"
    interval = "" if stats["low"] is None else ", outside the 95% interval"
    return f"**gap**: convlab {abs(gap):.2f} pp {where} the published figure{interval}"


def ok_runs(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in row["records"] if r["status"] == "ok"]


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.2%}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| preset | model | published | convlab: mean ± std over seeds | 95% interval | seeds | parameters "
        "| epochs | train s per run | wall s per run | verdict |"
    )
    lines = [head, "|---|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        published = row["published"]
        pub = f"{published['text']} on {published['dataset']}" if published else "?"
        ok = ok_runs(row)
        if not ok:
            first = row["records"][0] if row["records"] else None
            why = f"{first['status']}: {first.get('error', '')}" if first else "not run"
            lines.append(f"| `{row['preset']}` | | {pub} | {why} | | | | | | | |")
            continue
        record = ok[0]
        stats = accuracy_stats([r["test"]["acc"] for r in ok])
        spread = f" ± {stats['std'] * 100:.2f} pp" if stats["std"] is not None else ""
        measured = f"**{stats['mean']:.2%}**{spread} on {record['dataset']} ({record['test']['samples']:,} test images)"
        interval = f"{_pct(stats['low'])} – {_pct(stats['high'])}" if stats["low"] is not None else "(one seed)"
        seconds = sum(r["train_seconds"] for r in ok) / len(ok)
        failed = len(row["records"]) - len(ok)
        seeds = f"{len(ok)}" + (f" (+{failed} not ok)" if failed else "")
        acc = published.get("acc") if published else None
        wall = f"{row['wall_per_run']:.0f}" if row.get("wall_per_run") else ""
        lines.append(
            f"| `{row['preset']}` | {record['model']} | {pub} | {measured} | {interval} | {seeds} "
            f"| {record['params']:,} | {record.get('epochs', '')} | {seconds:.0f} | {wall} | {verdict(acc, stats)} |"
        )
    return "\n".join(lines)


def mlp_vs_cnn_table(rows: list[dict[str, Any]]) -> str:
    """The MLP against the CNNs, from the same runs: parameters, accuracy, errors and training time."""
    lines = [
        "| model (preset) | kind | parameters | test accuracy (mean over seeds) | test errors | train s per run |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        ok = ok_runs(row)
        if not ok:
            continue
        record = ok[0]
        kind = "MLP" if record["model"] == "mlp" else "CNN"
        mean = sum(r["test"]["acc"] for r in ok) / len(ok)
        errors = (1 - mean) * record["test"]["samples"]
        seconds = sum(r["train_seconds"] for r in ok) / len(ok)
        lines.append(
            f"| {record['model']} (`{row['preset']}`) | {kind} | {record['params']:,} | {mean:.2%} | "
            f"{errors:,.0f} of {record['test']['samples']:,} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def per_class_table(record: RunRecord) -> str:
    """Precision, recall, F1 and support per class, as scikit-learn's classification_report lays them out."""
    test = record["test"]
    per_class, matrix, names = test["per_class"], test["confusion_matrix"], record["class_names"]
    lines = ["| class | precision | recall | f1-score | support |", "|---|---:|---:|---:|---:|"]
    for i, name in enumerate(names):
        support = sum(matrix[i])
        p, r, f = (per_class[k][i] for k in ("precision", "recall", "f1"))
        lines.append(f"| {name} | {p:.4f} | {r:.4f} | {f:.4f} | {support:,} |")
    total = sum(map(sum, matrix))
    lines.append(f"| accuracy | | | {test['acc']:.4f} | {total:,} |")
    macro = [sum(per_class[k]) / len(names) for k in ("precision", "recall", "f1")]
    lines.append(f"| macro avg | {macro[0]:.4f} | {macro[1]:.4f} | {macro[2]:.4f} | {total:,} |")
    return "\n".join(lines)


def confusion_table(record: RunRecord) -> str:
    """Counts; rows are the true class, columns the predicted one."""
    names, matrix = record["class_names"], record["test"]["confusion_matrix"]
    lines = ["| true \\ predicted | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for i, (name, counts) in enumerate(zip(names, matrix, strict=True)):
        cells = [f"**{c:,}**" if i == j else (f"{c:,}" if c else "·") for j, c in enumerate(counts)]
        lines.append(f"| **{name}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reproduction_markdown(rows: list[dict[str, Any]], command: str, wall_seconds: float | None = None) -> str:
    cores = os.cpu_count()
    wall = f" Wall time of the whole command: {wall_seconds / 60:.1f} min." if wall_seconds else ""
    parts = [
        "# Reproduction of the published results",
        "",
        f"`{command}`, {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()} with {cores} CPU cores.{wall}",
        "",
        markdown_table(rows),
        "",
        "Published figures are on the dataset named beside them; measured ones on the dataset shown. The spread is "
        "the sample standard deviation over seeds (model initialisation, shuffling, dropout; the data split is "
        "fixed by `split_seed`), the interval the 95% Student-t interval of the mean (within 0-100%). *Reproduced*: "
        "the published figure within 0.5 percentage points of the mean, or inside the interval. Train seconds are "
        "results.json's "
        "`train_seconds`, wall seconds the whole `train.py` process (start-up, data, training, test), both the "
        "mean over seeds. Each run's directory holds its results.json, "
        "confusion matrix and checkpoints.",
        "",
    ]
    if sum(1 for row in rows if ok_runs(row)) > 1:
        parts += ["## MLP against CNN", "", mlp_vs_cnn_table(rows), ""]
    for row in rows:
        ok = ok_runs(row)
        if row["preset"] == "cnn8_article" and ok:
            record = ok[0]
            parts += [
                f"## `cnn8_article`: per class (seed {record.get('seed')}, {record['test']['samples']:,} test images)",
                "",
                per_class_table(record),
                "",
                "Confusion matrix (rows: true digit, columns: predicted; `·` is zero):",
                "",
                confusion_table(record),
                "",
            ]
    return "\n".join(parts)
