"""Benchmark convlab's training path against a hand-written loop and the tutorial pipeline.

    python scripts/bench.py                   # mlp, lenet, cnn8 x batch 32, 64, 256; 3 interleaved repetitions
    python scripts/bench.py --quick           # a short run (1 repetition, batch 64, small budgets)
    python scripts/bench.py --json bench.json --variant channels_last=false   # convlab in NCHW, like the rivals

Prints samples/s per pipeline with the ratios a/b (convlab / hand loop) and a/c (convlab / tutorial), then
`python train.py` (1-epoch LeNet on Fashion-MNIST) against the hand-written script scripts/hand_written_lenet.py,
each a clean process with the environment this command was started with, in interleaved pairs (training samples/s
and whole-command ratios: median and spread), then start-up time, evaluation samples/s and peak memory. Figures vary
with the machine; ratios measured in one run are comparable. A load average above 1 at the start (another core's
worth of work) is warned about and marked in the output and the JSON ("busy").
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
import warnings
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for benchmarks/
from benchmarks import engine as bench
from convlab.run.environment import drop_futile_nvml_check, quiet_libraries


def main() -> None:
    args = parse_args()
    console = Console(stderr=True)
    load_before, busy = bench.load_average(), bench.machine_is_busy()
    if busy:
        console.print(
            f"WARNING: load average {load_before:.2f} > 1 before the benchmark started: other work is running. "
            "Figures are marked BUSY; a contended machine slows a spinning hand-written loop most, so ratios "
            "against it look falsely good.",
            style="bold red",
        )
    mark = " [BUSY machine: not representative]" if busy else ""
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    quiet_libraries()
    drop_futile_nvml_check()  # what every run does (convlab.run.environment.setup_runtime); the hand loop too
    torch.set_num_threads(args.threads)

    with bench.temporary_workdir() as tmp:
        workdir = Path(tmp)
        dataset = bench.bench_dataset(str(Path("data").resolve()))
        console.print(
            f"dataset={dataset} threads={args.threads} repetitions={args.repetitions} torch {torch.__version__} "
            f"on {platform.processor() or platform.machine()}, {bench.default_threads()} cores"
        )
        runner = bench.Bench(dataset, workdir, args.threads, args.variant)
        started = time.perf_counter()
        rows = bench.measure(
            runner,
            args.models,
            args.batch_sizes,
            bench.PIPELINES,
            args.repetitions,
            0.25 if args.quick else 1.0,
            progress=lambda line: console.print(f"  {line}", style="dim"),
        )
        seconds = time.perf_counter() - started
        print_table(rows, f"training samples/s, median of {args.repetitions} ({seconds:.0f} s){mark}")
        clean = clean_process_pairs(args, workdir, console, busy, mark)
        if args.json:
            machine = {
                "load_average_before": round(load_before, 2),
                "busy": busy,
                "cores": bench.default_threads(),
                "threads": args.threads,
                "torch": torch.__version__,
                "processor": platform.processor() or platform.machine(),
            }
            bench.write_json(args.json, rows, machine=machine, clean_processes=clean)
            console.print(f"wrote {args.json}")
        if not args.skip_process:
            print_process_figures(runner, workdir, dataset, args.models, quick=args.quick)


def parse_args() -> argparse.Namespace:
    """The command line, with --quick's and the full run's defaults filled in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repetition, batch 64, small budgets")
    parser.add_argument("--json", type=Path, help="write the rows {model, batch_size, pipeline, samples_per_second}")
    parser.add_argument("--models", nargs="+", default=list(bench.MODELS), choices=bench.MODELS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=None)
    parser.add_argument("--repetitions", type=int, default=None, help="default 3 (1 with --quick)")
    parser.add_argument("--threads", type=int, default=bench.default_threads())
    parser.add_argument("--variant", nargs="*", default=[], help="overrides for convlab (the rivals stay plain NCHW)")
    parser.add_argument("--skip-process", action="store_true", help="skip start-up, evaluation and memory")
    parser.add_argument("--pairs", type=int, default=None, help="clean-process pairs: default 5 (2 with --quick)")
    parser.add_argument("--data-dir", default=bench.FASHION_DIR, help="Fashion-MNIST .gz files for the clean pairs")
    parser.add_argument("--skip-clean", action="store_true", help="skip the clean-process pairs")
    args = parser.parse_args()
    args.batch_sizes = args.batch_sizes or ([64] if args.quick else list(bench.BATCH_SIZES))
    args.repetitions = args.repetitions or (1 if args.quick else 3)
    args.pairs = args.pairs or (2 if args.quick else 5)
    if args.repetitions < 1 or args.pairs < 1 or any(b < 1 for b in args.batch_sizes) or args.threads < 1:
        parser.error("--repetitions, --pairs, --batch-sizes and --threads must be positive")
    return args


def clean_process_pairs(args: argparse.Namespace, workdir: Path, console: Console, busy: bool, mark: str) -> dict:
    """train.py against the hand-written script in clean processes, printed; or why they were skipped."""
    if args.skip_clean:
        return {"skipped": "--skip-clean"}
    if not bench.has_fashion_files(args.data_dir):
        clean = {"skipped": f"no Fashion-MNIST .gz files in {args.data_dir}"}
        console.print(f"clean-process pairs skipped: {clean['skipped']}")
        return clean
    clean = bench.clean_pairs(
        workdir / "clean",
        args.data_dir,
        args.threads,
        args.pairs,
        steps=max(4, 2_000 // 64) if args.quick else None,
        progress=lambda line: console.print(f"  {line}", style="dim"),
    )
    clean["busy"] = busy  # judged before the benchmark started: its own children raise the load later
    print_clean(clean, mark)
    return clean


def print_clean(clean: dict, mark: str) -> None:
    table = Table(
        title=f"clean processes, {clean['what']}: median of {clean['pairs']} interleaved pairs{mark}",
        title_justify="left",
    )
    for col in ("", "python train.py", "hand-written", "ratio (median, min-max)"):
        table.add_column(col, justify="left" if not col else "right")
    medians, ratios = clean["medians"], list(clean["ratios"].values())
    for label, key, ratio, fmt in (
        ("training samples/s", "samples_per_second", ratios[0], "{:,.0f}"),
        ("whole command, s", "wall_seconds", ratios[1], "{:.1f}"),
    ):
        table.add_row(
            label,
            fmt.format(medians["convlab"][key]),
            fmt.format(medians["hand_script"][key]),
            f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})",
        )
    Console().print(table)


def print_table(rows: list[bench.Row], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in ("model", "batch", *bench.PIPELINES, "a/b", "a/c"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for (model, batch), r in bench.ratios(rows).items():
        rates = [f"{r[p]:,.0f}" if p in r else "-" for p in bench.PIPELINES]
        table.add_row(model, str(batch), *rates, f"{r['a/b']:.2f}", f"{r['a/c']:.2f}")
    Console().print(table)


def print_process_figures(runner: bench.Bench, workdir: Path, dataset: str, models: list[str], quick: bool) -> None:
    console = Console()
    reps = 1 if quick else 3
    table = Table(title="whole-process figures", title_justify="left", show_header=False)
    table.add_row("python train.py: start to first optimizer step", f"{bench.startup_seconds(workdir, reps):.1f} s")
    for module in ("pytorch_lightning", "torch"):
        paused = bench.import_seconds(module, reps, collector_paused=True)
        table.add_row(f"  of which `import {module}` (as train.py: collector paused)", f"{paused:.1f} s")
    plain = bench.import_seconds("pytorch_lightning", reps)
    table.add_row("`import pytorch_lightning` in plain python", f"{plain:.1f} s")
    for model in models:
        rate = bench.eval_samples_per_second(runner, model)
        table.add_row(f"evaluation samples/s, {model}", f"{rate:,.0f}")
    if not quick:
        table.add_row(f"peak RSS, LeNet 1 epoch on {dataset}", f"{bench.peak_rss_mb(workdir, dataset):,.0f} MB")
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
