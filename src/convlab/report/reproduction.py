"""``python scripts/reproduce.py [dataset=...] [overrides]``: the published presets, re-run and compared.

The presets (conf/experiment/lenet_tutorial.yaml, cnn8_article.yaml, mlp_keras.yaml) carry their published
figure under ``published``. They run as one Hydra multirun of ``train.py`` (every job is checked before the
first starts); each job's results.json gives the measured accuracy, parameters and seconds. The table is
printed and written, atomically, as reproduction.md in the sweep directory.
"""

from __future__ import annotations

import argparse
import os
import platform
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

PRESETS = ("lenet_tutorial", "cnn8_article", "mlp_keras")
ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATASET = "dataset=mnist"  # every preset on MNIST unless told otherwise (downloaded when online)


def preset_of(overrides: list[str]) -> str | None:
    return next(iter(values_of(overrides, "experiment")), None)


def collect_rows(sweep_dir: Path, presets: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per preset, in ``presets`` order, from the sweep's results.json and saved configs."""
    found: dict[str, dict[str, Any]] = {}
    for results in sorted(sweep_dir.glob(f"*/{RESULTS_NAME}")):
        record = read_results(results)
        preset = preset_of(record["overrides"])
        config = results.parent / ".hydra" / "config.yaml"
        published = OmegaConf.load(config).get("published") if config.is_file() else None
        found[preset] = {"preset": preset, "record": record, "published": published, "run_dir": results.parent}
    return [found.get(p, {"preset": p, "record": None, "published": None, "run_dir": None}) for p in presets]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = "| preset | model | published | measured | parameters | epochs | seconds |"
    lines = [head, "|---|---|---|---|---:|---:|---:|"]
    for row in rows:
        record, published = row["record"], row["published"]
        pub = f"{published['text']} on {published['dataset']}" if published else "?"
        if record is None:
            lines.append(f"| `{row['preset']}` | ? | {pub} | not run | | | |")
            continue
        if record["status"] == "ok":
            test = record["test"]
            measured = f"**{test['acc']:.2%}** on {record['dataset']} ({test['samples']:,} test images)"
        else:
            measured = f"{record['status']}: {record.get('error', '')}"
        params = f"{record['params']:,}" if record.get("params") is not None else ""
        seconds = f"{record['train_seconds']:.0f}" if record.get("train_seconds") is not None else ""
        lines.append(
            f"| `{row['preset']}` | {record['model']} | {pub} | {measured} | {params} | {record.get('epochs', '')} "
            f"| {seconds} |"
        )
    return "\n".join(lines)


def reproduction_markdown(rows: list[dict[str, Any]], command: str) -> str:
    cores = os.cpu_count()
    return "\n".join(
        [
            "# Reproduction of the published results",
            "",
            f"`{command}`, {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()} with {cores} CPU cores.",
            "",
            markdown_table(rows),
            "",
            "Published figures are on the dataset named beside them; measured ones on the dataset shown. "
            "Seconds are training time (results.json `train_seconds`). Each run's directory holds its "
            "results.json, confusion matrix and checkpoints.",
            "",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="reproduce.py",
        description="Run the published presets and compare: python scripts/reproduce.py [dataset=...] [overrides]",
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every preset, e.g. dataset=digits")
    parser.add_argument("--presets", default=",".join(PRESETS), help=f"comma-separated (default {','.join(PRESETS)})")
    parser.add_argument("--out", default=None, help="sweep directory (default outputs/reproduce/<date>_<time>)")
    args = parser.parse_args(argv)
    args.presets = tuple(p.strip() for p in args.presets.split(",") if p.strip())
    return args


def main(argv: list[str] | None = None) -> int:
    from convlab.cli.exit import fail
    from convlab.cli.precheck import precheck
    from convlab.config.checks import check_config
    from convlab.config.resolvers import unique_dir

    args = parse_args(argv)
    overrides = list(args.overrides)
    try:
        keys = [override_key(o) for o in overrides]
    except ConvlabError as e:
        fail(str(e))
    if "dataset" not in keys:
        overrides.insert(0, DEFAULT_DATASET)
    if "experiment" in keys or "hydra.sweep.dir" in keys:
        fail("reproduce.py chooses experiment= and hydra.sweep.dir itself; use --presets and --out")
    sweep = ["-m", f"experiment={','.join(args.presets)}", *overrides]
    try:
        precheck(sweep, "config", check_config)  # every job composed and checked here, before a directory or a process
    except ConvlabError as e:
        fail(str(e))
    base = args.out or str(Path("outputs") / "reproduce" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    sweep_dir = Path(unique_dir(base))  # created atomically: never an earlier reproduction's directory
    command = [sys.executable, str(ROOT / "train.py"), *sweep, f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(command, check=False)
    if proc.returncode != 0:  # train.py has printed its one-line reason; nothing ran
        if not any(sweep_dir.iterdir()):
            sweep_dir.rmdir()
        return proc.returncode
    try:
        rows = collect_rows(sweep_dir, args.presets)
    except ConvlabError as e:
        fail(str(e))
    shown = " ".join(["python scripts/reproduce.py", *args.overrides])
    text = reproduction_markdown(rows, shown)
    path = atomic_write_text(sweep_dir / "reproduction.md", text)
    print(markdown_table(rows))
    print(f"\nwritten to {path}")
    failed = [r for r in rows if r["record"] is None or r["record"]["status"] != "ok"]
    if failed:
        first = failed[0]
        reason = first["record"].get("error", first["record"]["status"]) if first["record"] else "did not run"
        print(f"convlab: error: {first['preset']}: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0
