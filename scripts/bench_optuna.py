"""The figures of issue 21's two Optuna targets, measured through ``python train.py -m hparams_search=optuna``.

1. Pruning pays: a 20-trial, 5-epoch LeNet study on digits, optim.lr log-uniform over 1e-5..1, with
   pruner=median and without (same sampler seed): epochs trained and best validation accuracy of each.
   Target: at most 60% of the epochs, best validation accuracy within 1 point.
2. Two workers on one study: 12 one-epoch trials by two workers with threads=1 each (started together on one
   journal file) against one worker with threads=1, and one worker with threads=2. Target: two workers take at
   most 0.6x the time of one worker with threads=1.

    python scripts/bench_optuna.py            # the real figures (tens of minutes on a 2-core machine)
    python scripts/bench_optuna.py --tiny     # a minute: checks that the script works, figures mean nothing
Run it on a quiet machine: every figure is a wall-clock time or follows from one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["~callbacks.progress_bar", "++trainer.enable_progress_bar=false", "~callbacks.model_summary"]


def sweep(cwd: Path, *overrides: str) -> subprocess.Popen:
    """Start one worker: ``python train.py -m hparams_search=optuna <overrides>`` in ``cwd``."""
    command = [sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=optuna", *QUIET, *overrides]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(*workers: subprocess.Popen) -> None:
    for worker in workers:
        _, err = worker.communicate()
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed (exit {worker.returncode}):\n{err[-2000:]}")


def trials(cwd: Path) -> list[dict]:
    """Every trial's results.json under cwd/outputs/sweeps."""
    return [json.loads(p.read_text()) for p in sorted((cwd / "outputs" / "sweeps").glob("*/trial_*/results.json"))]


def epochs_trained(record: dict) -> int:
    return int(record.get("pruned_after_epochs") or record.get("epochs") or 0)


def best_val(records: list[dict]) -> float:
    return max(((r.get("val") or {}).get("acc") or 0.0) for r in records if r["status"] == "ok")


def pruning_pays(root: Path, n_trials: int, epochs: int, limit: list[str]) -> None:
    rows = []
    for pruner in ("none", "median"):
        cwd = root / f"pruning-{pruner}"
        cwd.mkdir()
        start = time.perf_counter()
        finish(
            sweep(
                cwd,
                f"pruner={pruner}",
                "model=lenet",
                f"trainer.max_epochs={epochs}",
                f"hydra.sweeper.n_trials={n_trials}",
                "optim.lr=tag(log, interval(1e-5, 1))",
                *limit,
            )
        )
        records = trials(cwd)
        pruned = sum(r["status"] == "pruned" for r in records)
        rows.append((pruner, sum(map(epochs_trained, records)), pruned, best_val(records), time.perf_counter() - start))
    print(f"\n1. pruning pays: {n_trials} trials of up to {epochs} epochs, LeNet on digits, lr log-uniform 1e-5..1")
    print(f"{'pruner':<8} {'epochs trained':>15} {'pruned':>7} {'best val acc':>13} {'wall s':>8}")
    for pruner, trained, pruned, best, wall in rows:
        print(f"{pruner:<8} {trained:>15} {pruned:>7} {best:>13.4f} {wall:>8.1f}")
    (_, base, _, base_best, _), (_, median, _, median_best, _) = rows
    print(
        f"median pruner: {median / base:.0%} of the epochs (target <= 60%), best val acc "
        f"{100 * (median_best - base_best):+.2f} points (target within 1)"
    )


def two_workers(root: Path, n_trials: int, limit: list[str]) -> None:
    common = ["model=lenet", "trainer.max_epochs=1", f"hydra.sweeper.n_trials={n_trials}", *limit]
    rows = []
    for label, workers, threads in (
        ("1 worker, threads=1", 1, 1),
        ("2 workers, threads=1", 2, 1),
        ("1 worker, threads=2", 1, 2),
    ):
        cwd = root / f"workers-{workers}-threads-{threads}"
        cwd.mkdir()
        journal = f"hydra.sweeper.storage=journal:{cwd / 'study.journal'}"  # one study for both workers
        start = time.perf_counter()
        finish(*[sweep(cwd, *common, f"threads={threads}", journal) for _ in range(workers)])
        wall = time.perf_counter() - start
        assert len(trials(cwd)) == n_trials, f"{label}: {len(trials(cwd))} trials, not {n_trials}"
        rows.append((label, wall))
    print(f"\n2. workers on one study: {n_trials} one-epoch LeNet trials on digits")
    for label, wall in rows:
        print(f"{label:<22} {wall:>8.1f} s  {wall / rows[0][1]:.2f}x")
    print(f"two workers: {rows[1][1] / rows[0][1]:.2f}x one worker's time (target <= 0.6x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few short trials: checks the script, not the targets")
    parser.add_argument("--keep", type=Path, help="keep the sweeps in this directory (default: a temporary one)")
    args = parser.parse_args()
    limit = ["++trainer.limit_train_batches=2", "++trainer.limit_val_batches=1"] if args.tiny else []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        pruning_pays(root, 3 if args.tiny else 20, 2 if args.tiny else 5, limit)
        two_workers(root, 2 if args.tiny else 12, limit)


if __name__ == "__main__":
    main()
