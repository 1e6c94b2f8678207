"""Benchmark dataset=image_folder on Fashion-MNIST written as 70,000 PNGs (benchmarks/image_folder.py).

    python scripts/bench_image_folder.py                          # PNGs under /tmp/convlab-fashion-png (written once)
    python scripts/bench_image_folder.py --quick --json out.json  # fewer steps and repetitions
    python scripts/bench_image_folder.py --parts b                # only (b): the first decode and the second start

Prints (a) LeNet samples/s, image_folder (cached) over fashion_mnist (target >= 0.95x); (b) the first decode's
time over one pass of torchvision's ImageFolder + DataLoader (target <= 1.0x); (c) the streaming path's samples/s
over the ImageFolder + DataLoader loop (target >= 1.0x); with the load average before and after (the figures of a
shared machine move with its load).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for benchmarks/
from benchmarks import image_folder as bench
from benchmarks.engine import FASHION_DIR
from convlab.run.environment import quiet_libraries


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--png-dir", default=str(Path(tempfile.gettempdir()) / "convlab-fashion-png"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers, both sides of (b) and (c)")
    parser.add_argument("--batch-size", type=int, default=64, help="(a)'s training batch")
    parser.add_argument("--loader-batch", type=int, default=256, help="(b) and (c)'s batch")
    parser.add_argument("--steps", type=int, default=300, help="(a)'s training steps per run")
    parser.add_argument("--repetitions", type=int, default=3, help="(a)'s interleaved repetitions")
    parser.add_argument("--quick", action="store_true", help="100 steps, 1 repetition")
    parser.add_argument("--parts", default="abc", help="which figures to measure, e.g. b (default abc)")
    parser.add_argument("--json", help="also write the figures here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.quick:
        args.steps, args.repetitions = 100, 1
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    quiet_libraries()
    torch.set_num_threads(args.threads)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    root = bench.write_fashion_pngs(FASHION_DIR, args.png_dir)
    log(f"PNG folder {root} ready in {time.perf_counter() - start:.0f} s; load average {load_before:.2f}")
    with tempfile.TemporaryDirectory(prefix="convlab-bench-data-") as data_dir:
        measures = {
            "a_training": lambda: bench.train_rates(
                root, Path(data_dir), args.threads, args.batch_size, args.steps, args.repetitions, log
            ),
            "b_first_decode": lambda: bench.first_decode(root, args.workers, args.loader_batch, log),
            "c_streaming": lambda: bench.streaming(root, args.workers, args.loader_batch, log),
        }
        figures = {name: measure() for name, measure in measures.items() if name[0] in args.parts}
    figures["settings"] = {k: v for k, v in vars(args).items() if k != "json"}
    figures["load_average"] = {"before": load_before, "after": os.getloadavg()[0], "cores": os.cpu_count()}
    if "a_training" in figures:
        a = figures["a_training"]
        print(
            f"(a) LeNet samples/s   fashion_mnist {a['fashion_mnist']:.0f}   image_folder {a['image_folder']:.0f}   "
            f"ratio {a['ratio']:.3f} (target >= 0.95)"
        )
    if "b_first_decode" in figures:
        b = figures["b_first_decode"]
        print(
            f"(b) first decode      convlab {b['convlab_s']:.1f} s   ImageFolder+DataLoader {b['torchvision_s']:.1f} s "
            f"ratio {b['ratio']:.3f} (target <= 1.0); second start (disk cache) {b['second_start_s']:.1f} s"
        )
    if "c_streaming" in figures:
        c = figures["c_streaming"]
        print(
            f"(c) streaming         convlab {c['convlab_samples_per_s']:.0f}/s   ImageFolder+DataLoader "
            f"{c['torchvision_samples_per_s']:.0f}/s   ratio {c['ratio']:.3f} (target >= 1.0)"
        )
    after = figures["load_average"]["after"]
    print(f"load average {load_before:.2f} before, {after:.2f} after, {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
