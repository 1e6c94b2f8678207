"""``python scripts/reproduce.py [--seeds N] [overrides]`` (or ``convlab reproduce ...``): run the published presets as
Hydra multiruns of ``python -m convlab train``, then write their reproduction report (convlab.report.reproduction)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from convlab.cli.exit import fail
from convlab.cli.precheck import precheck
from convlab.config.checks import check_config
from convlab.config.overrides import override_key
from convlab.config.resolvers import unique_dir
from convlab.config.runtime import invocation, remember_invocation
from convlab.errors import ConvlabError
from convlab.fileio import atomic_write_text
from convlab.report.reproduction import PRESETS, collect_rows, markdown_table, ok_runs, reproduction_markdown
from convlab.runfiles.results import RESULTS_NAME

RUN_INFO = "reproduce.json"  # the command line and wall time, for --from


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=invocation("reproduce"),
        description="Run the published presets and compare: reproduce [--seeds N] [overrides]",
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
    """``argv``: the arguments after the command (default: this process's)."""
    argv = sys.argv[1:] if argv is None else argv
    started_as = remember_invocation("reproduce", argv)
    args = parse_args(argv)
    if args.from_dir:
        return _rewrite(Path(args.from_dir), args.presets)
    launches = _launches(args)
    base = args.out or str(Path("outputs") / "reproduce" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    sweep_dir = Path(unique_dir(base))  # created atomically: never an earlier reproduction's directory
    shown = " ".join([started_as, *_shown_args(args)])
    info = {"command": shown, "presets": list(args.presets), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    info["wall_per_run"] = {p: [] for p in args.presets}  # seconds of each training process, start to exit
    start = time.perf_counter()
    for preset, launch in launches:
        atomic_write_text(sweep_dir / RUN_INFO, json.dumps(info, indent=2))
        began = time.perf_counter()
        # The installed package's own command: no clone (and no train.py) needed.
        train = [sys.executable, "-m", "convlab", "train"]
        proc = subprocess.run([*train, *launch, f"hydra.sweep.dir={sweep_dir}"])
        info["wall_per_run"][preset].append(time.perf_counter() - began)
        if proc.returncode != 0 and not any(sweep_dir.glob(f"*/{RESULTS_NAME}")):
            shutil.rmtree(sweep_dir)  # the training command has printed its one-line reason; nothing ran
            return proc.returncode
    info["wall"] = time.perf_counter() - start
    atomic_write_text(sweep_dir / RUN_INFO, json.dumps(info, indent=2))
    failed = [r for r in write_report(sweep_dir, args.presets, shown, info) if not _all_ok(r)]
    if failed:
        bad = next((r for r in failed[0]["records"] if r["status"] != "ok"), None)
        reason = bad.get("error", bad["status"]) if bad else "did not run"
        print(f"convlab: error: {failed[0]['preset']}: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0


def _rewrite(sweep_dir: Path, presets: tuple[str, ...]) -> int:
    """--from: the report of a finished (or interrupted) reproduction, written again."""
    if not sweep_dir.is_dir():
        fail(f"--from {sweep_dir}: no such directory")
    info_file = sweep_dir / RUN_INFO
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    presets = tuple(info.get("presets", presets))
    rows = write_report(sweep_dir, presets, info.get("command", "reproduce"), info)
    return 0 if all(ok_runs(r) for r in rows) else 1


def _launches(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """(preset, training arguments) per multirun, every job composed and checked before anything runs."""
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
        for _, launch in launches[: len(args.presets)]:  # the first seed's: the others differ only in seed=
            precheck(launch, "config", check_config)
    except ConvlabError as e:
        fail(str(e))
    return launches


def _all_ok(row: dict[str, Any]) -> bool:
    return bool(ok_runs(row)) and len(ok_runs(row)) == len(row["records"])


def _shown_args(args: argparse.Namespace) -> list[str]:
    shown = list(args.overrides)
    if args.seeds > 1:
        shown += ["--seeds", str(args.seeds)]
    if args.presets != PRESETS:
        shown += ["--presets", ",".join(args.presets)]
    return shown
