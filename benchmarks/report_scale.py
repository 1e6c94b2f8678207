"""The comparison report at scale: 300 synthetic runs (48 configurations x 3-10 seeds) through scripts/compare.py.

    python benchmarks/report_scale.py [--runs 300] [--configurations 48] [--samples 10000] [--keep DIR]

Writes the runs (results.json, history.csv, predictions.npz through convlab's own writers) into a temporary
directory, then times ``python scripts/compare.py <sweep> --out <dir>`` in a fresh process and prints its
wall time, its peak resident memory (getrusage of the child) and the size of report.html.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from synthetic_runs import write_sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--configurations", type=int, default=48)
    parser.add_argument("--samples", type=int, default=10_000, help="test samples per run (MNIST: 10000)")
    parser.add_argument("--keep", type=Path, help="write the runs and the report here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        started = time.perf_counter()
        sweep = write_sweep(root / "sweep", args.runs, args.configurations, args.samples)
        print(f"wrote {args.runs} runs ({args.configurations} configurations) in {time.perf_counter() - started:.1f} s")
        out = root / "report"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "compare.py"), str(sweep), "--out", str(out)],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"compare.py failed ({proc.returncode}): {proc.stderr[-2000:]}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kilobytes on Linux
        size_mb = (out / "report.html").stat().st_size / 1e6
        print(f"compare.py: {seconds:.1f} s wall, peak memory {peak_mb:.0f} MB, report.html {size_mb:.2f} MB")


if __name__ == "__main__":
    main()
