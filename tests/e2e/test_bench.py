"""The benchmark runs and writes its JSON; the fast paths agree with the plain path.

Timing itself is not tested (these machines are shared and noisy): scripts/bench.py prints the figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from helpers import QUICK, ROOT, fake_mnist, run_cli, write_idx_files

from convlab.data import DigitsDataModule
from convlab.models import CNN8, LeNet
from convlab.run.train import train


# Slow (45 s: the benchmark and four clean processes). The fast suite runs bench.py --help
# (test_documented_commands) and the hand-written script below.
@pytest.mark.slow
def test_bench_quick_writes_well_formed_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    fashion = write_idx_files(tmp_path / "fashion", fake_mnist(300, 100), gz=True)  # the clean pairs' data
    # The benchmark's own environment carries a marker; convlab's import (inside the benchmark) sets OMP_WAIT_POLICY,
    # which the clean children must not inherit.
    env = {"OMP_WAIT_POLICY": None, "BENCH_TEST_MARKER": "1", "MY_API_KEY": "hunter2"}
    proc = run_cli(
        "scripts/bench.py",
        *("--quick", "--models", "lenet", "--skip-process", "--json", str(out), "--data-dir", str(fashion)),
        cwd=tmp_path,
        env=env,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = report["training"]
    assert {(r["model"], r["batch_size"], r["pipeline"]) for r in rows} == {
        ("lenet", 64, p) for p in ("convlab", "hand_loop", "tutorial")
    }
    assert all(set(r) == {"model", "batch_size", "pipeline", "samples_per_second"} for r in rows)
    assert all(isinstance(r["samples_per_second"], float) and r["samples_per_second"] > 0 for r in rows)
    assert "a/b" in proc.stdout and "a/c" in proc.stdout
    assert isinstance(report["machine"]["busy"], bool) and report["machine"]["load_average_before"] >= 0

    clean = report["clean_processes"]
    assert clean["pairs"] == 2 and isinstance(clean["busy"], bool)
    runs = clean["runs"]
    expected = [(program, pair) for program in ("convlab", "hand_script") for pair in (0, 1)]
    assert sorted((r["program"], r["pair"]) for r in runs) == expected
    assert [r["program"] for r in runs] == ["hand_script", "convlab", "convlab", "hand_script"]  # interleaved, ABBA
    for r in runs:
        assert r["wall_seconds"] > 0 and r["samples_per_second"] > 0 and 0 <= r["test_acc"] <= 1
        assert r["environment"]["BENCH_TEST_MARKER"] == "1" and r["environment"]["MY_API_KEY"] == "<redacted>"
        assert "OMP_WAIT_POLICY" not in r["environment"]
    assert clean["commands"]["convlab"][1].endswith("train.py")
    assert clean["commands"]["hand_script"][1].endswith("hand_written_lenet.py")
    for ratio in clean["ratios"].values():
        assert ratio["min"] <= ratio["median"] <= ratio["max"] and len(ratio["values"]) == 2
    assert "clean processes" in proc.stdout and "whole command" in proc.stdout


def test_hand_written_script_trains_the_same_lenet_on_the_same_split(tmp_path: Path) -> None:
    from convlab.data.tensor_data import stratified_split

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import hand_written_lenet as hand
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert sum(p.numel() for p in hand.lenet().parameters()) == sum(p.numel() for p in LeNet().parameters())
    labels = torch.from_numpy(fake_mnist(300, 0)["train-labels-idx1-ubyte"]).long()
    train_idx, _ = stratified_split(labels, 0.1, 1)  # convlab's default split: val_fraction 0.1, split_seed 0 + 1
    assert torch.equal(hand.training_indices(labels), train_idx)


@pytest.fixture(scope="module")
def digits_batch() -> torch.Tensor:
    dm = DigitsDataModule()
    dm.setup()
    images, _ = next(iter(dm.test_dataloader()))
    return dm.normalize(images[:256])


@pytest.mark.parametrize("cls", [LeNet, CNN8])
def test_channels_last_gives_the_same_outputs(cls: type, digits_batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    plain = cls().eval()
    fast = cls().eval()
    fast.load_state_dict(plain.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    x_fast = digits_batch.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fast(x_fast), plain(digits_batch), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [LeNet, CNN8])
def test_bf16_autocast_predicts_like_fp32(cls: type, digits_batch: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = cls().eval()
    with torch.no_grad():
        reference = torch.softmax(model(digits_batch), dim=1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = torch.softmax(model(digits_batch).float(), dim=1)
    assert (fast - reference).abs().max() < 0.05
    assert (fast.argmax(1) == reference.argmax(1)).float().mean() >= 0.95


def test_fast_paths_train_end_to_end(compose_cfg) -> None:
    plain = train(compose_cfg([*QUICK, "model=lenet"], name="plain"))
    fast = train(compose_cfg([*QUICK, "model=lenet", "channels_last=true"], name="channels_last"))
    assert fast["status"] == "ok"
    # The same arithmetic in another memory layout: only summation order may differ.
    assert fast["test"]["acc"] == pytest.approx(plain["test"]["acc"], abs=0.01)
    bf16 = train(compose_cfg([*QUICK, "model=cnn8", "trainer.precision=bf16-mixed"], name="bf16"))
    assert bf16["status"] == "ok" and 0.0 <= bf16["test"]["acc"] <= 1.0
