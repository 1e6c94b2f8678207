"""A model of one's own (issue 27): any nn.Module class or factory from a user's module file, its in_channels /
num_classes filled from the data, model._target_=X replacing the group's node, results.json naming it by its
target, and a model that does not fit the data's shape refused before any run directory exists."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from helpers import QUICK, ROOT, train_py
from user_models import MYMODELS

from convlab.run.compose import compose_run
from convlab.run.evaluate import evaluate


def tiny_params(in_channels: int, hidden: int, classes: int) -> int:
    return in_channels * hidden * 9 + hidden + hidden * classes + classes


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's working directory holding mymodels.py, importable (as PYTHONPATH=. makes it)."""
    (tmp_path / "mymodels.py").write_text(MYMODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("mymodels", None)


def results(cwd: Path) -> dict:
    (path,) = (cwd / "outputs" / "runs").glob("*/results.json")
    return json.loads(path.read_text())


def test_a_plain_module_from_the_users_own_file_trains_as_a_user_runs_it(project: Path) -> None:
    """python train.py model._target_=mymodels.Tiny: LeNet's keys are not passed (the node is replaced), the
    command line's model.hidden is, in_channels and num_classes come from the digits (1 channel, 10 classes);
    eval.py's evaluation of its checkpoint gives the same test figures."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    env["CONVLAB_DATA_DIR"] = str(project / "data")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "model._target_=mymodels.Tiny", "model.hidden=4", *QUICK],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = results(project)
    assert record["status"] == "ok"
    assert record["model"] == "mymodels.Tiny"  # never the replaced option's name (lenet)
    assert record["params"] == tiny_params(1, 4, 10)

    # eval rebuilds the model as it was built (the checkpoint's model node), and names it the same way
    (run_dir,) = (project / "outputs" / "runs").iterdir()
    eval_cfg = compose_run([f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"], project / "eval", "eval")
    again = evaluate(eval_cfg)
    assert again["test"] == record["test"] and again["model"] == "mymodels.Tiny"


def test_a_3_channel_torchvision_model_on_1_channel_digits_is_one_line_and_no_run(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    code, _ = train_py("model._target_=torchvision.models.resnet18", *QUICK, cwd=project)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines == [
        "convlab: error: model=torchvision.models.resnet18 expects 3 input channels, "
        "but dataset=digits gives 1 x 28 x 28, 10 classes"
    ]
    assert not (project / "outputs").exists()


def test_a_model_with_the_wrong_class_count_is_one_line_and_no_run(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    code, _ = train_py("model._target_=mymodels.ThreeWay", *QUICK, cwd=project)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and "model=mymodels.ThreeWay gives 3 class scores per input" in lines[0]
    assert "dataset=digits gives 1 x 28 x 28, 10 classes" in lines[0]
    assert not (project / "outputs").exists()
