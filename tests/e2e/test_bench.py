"""The benchmark runs and writes its JSON; the fast paths agree with the plain path.

Timing itself is not tested (these machines are shared and noisy): scripts/bench.py prints the figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import QUICK, run_cli

from convlab.data import DigitsDataModule
from convlab.models import CNN8, LeNet
from convlab.run.train import train


def test_bench_quick_writes_well_formed_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = run_cli(
        "scripts/bench.py", "--quick", "--models", "mlp", "lenet", "--skip-process", "--json", str(out), cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert {(r["model"], r["batch_size"], r["pipeline"]) for r in rows} == {
        (m, 64, p) for m in ("mlp", "lenet") for p in ("convlab", "hand_loop", "tutorial")
    }
    assert all(set(r) == {"model", "batch_size", "pipeline", "samples_per_second"} for r in rows)
    assert all(isinstance(r["samples_per_second"], float) and r["samples_per_second"] > 0 for r in rows)
    assert "a/b" in proc.stdout and "a/c" in proc.stdout


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
