"""``python scripts/reproduce.py [--seeds N] [overrides]``: the published presets, re-run and compared.

The presets (conf/experiment/lenet_tutorial.yaml, mlp_keras.yaml, cnn8_article.yaml) carry their published
figure under ``published``. They run as one Hydra multirun of ``train.py`` (every job is checked before the
first starts), each ``--seeds`` times (seed=0..N-1); each job's results.json gives the measured accuracy,
parameters and seconds. Per preset: the mean, the sample std and the 95% interval (Student's t) over the
seeds, and a verdict: *reproduced* when the published figure is within 0.5 percentage points of the mean or
inside that interval, else the gap. Then the MLP-vs-CNN comparison over the same runs, and the 8-layer CNN's
per-class precision/recall/F1 and confusion matrix. Printed and written, atomically, as reproduction.md in
the sweep directory; ``--from <sweep dir>`` re-writes it from a finished (or interrupted) sweep.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from convlab.config.overrides import override_key, values_of
from convlab.errors import ConvlabError
from convlab.fileio import atomic_write_text
from convlab.run.record import RESULTS_NAME, read_results

PRESETS = ("lenet_tutorial", "mlp_keras", "cnn8_article")
ROOT = Path(__file__).resolve().parents[3]
TOLERANCE = 0.005  # 0.5 percentage points
RUN_INFO = "reproduce.json"  # the command line and wall time, for --from


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
        preset_file = ROOT / "conf" / "experiment" / f"{row['preset']}.yaml"
        if row["published"] is None and preset_file.is_file():  # not run (yet): the preset's own block
            published = OmegaConf.load(preset_file).get("published")
            row["published"] = OmegaConf.to_container(published) if published is not None else None
        row["records"].sort(key=lambda r: (r.get("seed") is None, r.get("seed")))
        row["record"] = row["records"][0] if row["records"] else None  # the first seed's: per-class tables
    return [found[p] for p in presets]


def accuracy_stats(accs: list[float]) -> dict[str, float | int | None]:
    """Mean, sample std and the two-sided 95% Student-t interval of the mean (None with one value)."""
    n = len(accs)
    mean = sum(accs) / n
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "low": None, "high": None}
    from scipy.stats import t  # imported here: scipy is slow to import

    std = math.sqrt(sum((a - mean) ** 2 for a in accs) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "low": mean - half, "high": mean + half}


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


def _ok(row: dict[str, Any]) -> list[dict[str, Any]]:
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
        ok = _ok(row)
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
        ok = _ok(row)
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


def per_class_table(record: dict[str, Any]) -> str:
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


def confusion_table(record: dict[str, Any]) -> str:
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
        "fixed by `split_seed`), the interval the 95% Student-t interval of the mean. *Reproduced*: the published "
        "figure within 0.5 percentage points of the mean, or inside the interval. Train seconds are results.json's "
        "`train_seconds`, wall seconds the whole `train.py` process (start-up, data, training, test), both the "
        "mean over seeds. Each run's directory holds its results.json, "
        "confusion matrix and checkpoints.",
        "",
    ]
    if sum(1 for row in rows if _ok(row)) > 1:
        parts += ["## MLP against CNN", "", mlp_vs_cnn_table(rows), ""]
    for row in rows:
        ok = _ok(row)
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="reproduce.py",
        description="Run the published presets and compare: python scripts/reproduce.py [--seeds N] [overrides]",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every preset, e.g. dataset=digits")
    parser.add_argument("--presets", default=",".join(PRESETS), help=f"comma-separated (default {','.join(PRESETS)})")
    parser.add_argument("--seeds", type=int, default=1, help="run every preset with seed=0..N-1 (default 1: seed=0)")
    parser.add_argument("--out", default=None, help="sweep directory (default outputs/reproduce/<date>_<time>)")
    parser.add_argument("--from", dest="from_dir", default=None, help="only re-write the table of this sweep")
    args = parser.parse_args(argv)
    args.presets = tuple(p.strip() for p in args.presets.split(",") if p.strip())
    return args


def write_report(sweep_dir: Path, presets: tuple[str, ...], command: str, info: dict[str, Any]) -> list:
    from convlab.cli.exit import fail

    try:
        rows = collect_rows(sweep_dir, presets)
    except ConvlabError as e:
        fail(str(e))
    for row in rows:
        walls = info.get("wall_per_run", {}).get(row["preset"], [])
        row["wall_per_run"] = sum(walls) / len(walls) if walls else None
    text = reproduction_markdown(rows, command, info.get("wall"))
    path = atomic_write_text(sweep_dir / "reproduction.md", text)
    print(markdown_table(rows))
    print(f"\nwritten to {path}")
    return rows


def main(argv: list[str] | None = None) -> int:
    from convlab.cli.exit import fail
    from convlab.cli.precheck import precheck
    from convlab.config.checks import check_config
    from convlab.config.resolvers import unique_dir

    args = parse_args(argv)
    if args.from_dir:
        sweep_dir = Path(args.from_dir)
        info_file = sweep_dir / RUN_INFO
        if not sweep_dir.is_dir():
            fail(f"--from {sweep_dir}: no such directory")
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
        presets = tuple(info.get("presets", args.presets))
        rows = write_report(sweep_dir, presets, info.get("command", "python scripts/reproduce.py"), info)
        return 0 if all(_ok(r) for r in rows) else 1
    overrides = list(args.overrides)
    try:
        keys = [override_key(o) for o in overrides]
    except ConvlabError as e:
        fail(str(e))
    if "experiment" in keys or "hydra.sweep.dir" in keys:
        fail("reproduce.py chooses experiment= and hydra.sweep.dir itself; use --presets and --out")
    if args.seeds < 1:
        fail(f"--seeds {args.seeds}: must be at least 1")
    if args.seeds > 1 and "seed" in keys:
        fail("--seeds N sets seed=0..N-1 itself; give either --seeds or seed=")
    # One multirun per (seed, preset), the preset fixed on its command line so that its own dataset is composed
    # with the overrides (a swept experiment= would compose them with the default dataset first). Seeds
    # outermost: an interrupted reproduction has every preset's first seeds before the later ones.
    seeds = [[f"seed={s}"] for s in range(args.seeds)] if args.seeds > 1 else [[]]
    launches = [(p, ["-m", f"experiment={p}", *seed, *overrides]) for seed in seeds for p in args.presets]
    try:
        for _, launch in launches[: len(args.presets)]:  # every job composed and checked before anything runs
            precheck(launch, "config", check_config)
    except ConvlabError as e:
        fail(str(e))
    base = args.out or str(Path("outputs") / "reproduce" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    sweep_dir = Path(unique_dir(base))  # created atomically: never an earlier reproduction's directory
    shown = " ".join(["python scripts/reproduce.py", *_shown_args(args)])
    info = {"command": shown, "presets": list(args.presets), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    info["wall_per_run"] = {p: [] for p in args.presets}  # seconds of each train.py process, start to exit
    atomic_write_text(sweep_dir / RUN_INFO, json.dumps(info, indent=2))
    start = time.perf_counter()
    for preset, launch in launches:
        began = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "train.py"), *launch, f"hydra.sweep.dir={sweep_dir}"])
        info["wall_per_run"][preset].append(time.perf_counter() - began)
        atomic_write_text(sweep_dir / RUN_INFO, json.dumps(info, indent=2))
        if proc.returncode != 0 and not any(sweep_dir.glob(f"*/{RESULTS_NAME}")):
            # train.py has printed its one-line reason; nothing ran
            shutil.rmtree(sweep_dir)
            return proc.returncode
    info["wall"] = time.perf_counter() - start
    atomic_write_text(sweep_dir / RUN_INFO, json.dumps(info, indent=2))
    rows = write_report(sweep_dir, args.presets, shown, info)
    failed = [r for r in rows if not _ok(r) or len(_ok(r)) < len(r["records"])]
    if failed:
        first = failed[0]
        bad = next((r for r in first["records"] if r["status"] != "ok"), None)
        reason = bad.get("error", bad["status"]) if bad else "did not run"
        print(f"convlab: error: {first['preset']}: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0


def _shown_args(args: argparse.Namespace) -> list[str]:
    shown = list(args.overrides)
    if args.seeds > 1:
        shown += ["--seeds", str(args.seeds)]
    if args.presets != PRESETS:
        shown += ["--presets", ",".join(args.presets)]
    return shown
