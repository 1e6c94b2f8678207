"""Checkpoints and results.json are written atomically: a writer that dies at any moment leaves the previous
complete file (or the new complete one), never a truncated file that a later tool would read."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import ROOT

from convlab.checkpoints import save as checkpoint_io
from convlab.checkpoints.save import AtomicCheckpointIO
from convlab.fileio import atomic_write
from convlab.run.build import build_trainer
from convlab.runfiles.results import read_results, write_results


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "ddp"])
def test_every_trainer_config_saves_checkpoints_atomically(compose_cfg, trainer: str) -> None:
    cfg = compose_cfg([f"trainer={trainer}", "trainer.accelerator=cpu", "trainer.deterministic=true"])
    assert isinstance(build_trainer(cfg).strategy.checkpoint_io, AtomicCheckpointIO)


def test_a_save_that_dies_midway_leaves_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"epoch": 0, "state_dict": {"w": torch.zeros(1000)}}, path)
    before = path.read_bytes()

    def dies_midway(obj: object, f: str | Path) -> None:
        Path(f).write_bytes(before[: len(before) // 2])  # half a file, then the writer is gone
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_io.torch, "save", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"epoch": 1, "state_dict": {"w": torch.ones(1000)}}, path)
    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["epoch"] == 0
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]  # no temp file left behind


def test_results_json_that_dies_midway_leaves_the_previous_file(tmp_path: Path) -> None:
    record = {"status": "ok", "dataset": "d", "model": "m", "optim": "o", "loss": "l", "overrides": [], "test": {}}
    write_results(tmp_path, record)

    def dies_midway(tmp: Path) -> None:
        tmp.write_text('{"status": "ok", "data')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(tmp_path / "results.json", dies_midway)
    assert read_results(tmp_path) == record
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


# Saves checkpoints of ~16 MB in a loop, printing each version once it is in place.
WRITER = """
import sys, torch
from convlab.checkpoints.save import AtomicCheckpointIO
io, weights = AtomicCheckpointIO(), torch.empty(4_000_000)
for version in range(1_000_000):
    io.save_checkpoint({"version": version, "state_dict": {"w": weights.fill_(version)}}, sys.argv[1])
    print(version, flush=True)
"""


def test_sigkill_during_a_checkpoint_write_leaves_the_previous_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout.readline().strip() == b"0", proc.stderr.read().decode()[-2000:]
        time.sleep(random.uniform(0, 0.2))
        deadline = time.monotonic() + 60
        while not list(path.parent.glob(".last.ckpt.*.tmp")):  # a write is under way: kill it now
            assert time.monotonic() < deadline and proc.poll() is None, "no write in progress was seen"
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    checkpoint = torch.load(path, weights_only=True)  # complete: it loads, and holds one whole version
    assert torch.all(checkpoint["state_dict"]["w"] == checkpoint["version"])
