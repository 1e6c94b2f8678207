"""Checkpoints load with weights_only=True only: one that needs arbitrary unpickling is refused, not executed;
corrupt and truncated ones end in one CheckpointError line, for eval and for train's ckpt_path alike."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
import torch
from helpers import QUICK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convlab.checkpoints.load import load_checkpoint
from convlab.errors import CheckpointError
from convlab.run.compose import compose_run
from convlab.run.evaluate import evaluate
from convlab.run.train import train

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class MakesADirectory:
    """Unpickling this calls os.mkdir: a stand-in for any code a malicious checkpoint could run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return os.mkdir, (str(self.path),)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    train(compose_run(QUICK, run_dir))
    return run_dir / "checkpoints" / "last.ckpt"


@pytest.fixture
def unsafe_checkpoint(trained: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A real checkpoint with one pickled object added, and the directory unpickling it would create."""
    marker = tmp_path / "code-ran"
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["callbacks"] = {"innocent-looking": MakesADirectory(marker)}
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True)
    torch.save(checkpoint, path)
    return path, marker


def test_the_unsafe_checkpoint_really_runs_code_when_fully_unpickled(unsafe_checkpoint) -> None:
    path, marker = unsafe_checkpoint
    torch.load(path, weights_only=False)  # what convlab never does
    assert marker.is_dir()


def test_eval_refuses_a_checkpoint_that_needs_unpickling(unsafe_checkpoint, tmp_path: Path) -> None:
    path, marker = unsafe_checkpoint
    with pytest.raises(CheckpointError, match=r"not loadable with weights_only=True .*could run code; refused"):
        evaluate(compose_run([f"ckpt_path={path}"], tmp_path / "eval", config_name="eval"))
    assert not marker.exists()


def test_train_refuses_to_resume_from_it_before_training(unsafe_checkpoint, tmp_path: Path) -> None:
    path, marker = unsafe_checkpoint
    run_dir = tmp_path / "resumed"
    with pytest.raises(CheckpointError, match=r"could run code; refused"):
        train(compose_run([*QUICK, f"ckpt_path={path}"], run_dir))
    assert not marker.exists()
    assert not (run_dir / "checkpoints").exists()


def _written(data: bytes) -> Path:
    fd, name = tempfile.mkstemp(suffix=".ckpt")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


@FUZZ
@given(cut=st.floats(min_value=0.0, max_value=0.9999))
def test_truncated_checkpoints_are_named_as_such(trained: Path, cut: float) -> None:
    data = trained.read_bytes()
    path = _written(data[: int(len(data) * cut)])
    try:
        with pytest.raises(CheckpointError, match=r"corrupt or truncated checkpoint|not loadable with weights_only"):
            load_checkpoint(path)
    finally:
        path.unlink()


@FUZZ
@given(data=st.data())
def test_corrupted_checkpoints_load_whole_or_fail_with_one_error(trained: Path, data: st.DataObject) -> None:
    content = bytearray(trained.read_bytes())
    for _ in range(data.draw(st.integers(1, 8), label="flips")):
        at = data.draw(st.integers(0, len(content) - 1), label="offset")
        content[at] ^= data.draw(st.integers(1, 255), label="xor")
    path = _written(bytes(content))
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError as e:
        assert "\n" not in str(e) and str(path) in str(e)
    else:  # a flip inside tensor data still loads: a valid (different) checkpoint
        assert isinstance(checkpoint["state_dict"], dict)
    finally:
        path.unlink()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=0.9999))
def test_eval_and_resume_name_a_truncated_checkpoint(trained: Path, tmp_path: Path, cut: float) -> None:
    data = trained.read_bytes()
    path = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        evaluate(compose_run([f"ckpt_path={path}"], Path(tempfile.mkdtemp(dir=tmp_path)), config_name="eval"))
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        train(compose_run([*QUICK, f"ckpt_path={path}"], Path(tempfile.mkdtemp(dir=tmp_path))))
