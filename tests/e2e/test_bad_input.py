"""A catalogue of bad command lines, each run as a real `python train.py` / `python eval.py` subprocess.

Every case must exit with code 2, print exactly one line on stderr that names the problem (no traceback), and
change no file outside the one new run directory it may make (earlier runs are never touched).

Most cases are caught by the command-line pre-check before torch is imported; they are the fast suite, run all
in one process by helpers.run_cli_batch (one interpreter start for the catalogue, each case as
``python <script>`` runs it, in its own copy of the workspace); one of them also runs as a process of its own.
Cases that need torch (model/dataset/loss pairings, checkpoints, data) are marked slow, each a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from helpers import fake_mnist, run_cli, run_cli_batch, write_digit_csv


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    says: str  # a piece of the one stderr line
    script: str = "train.py"
    new_dir: str | None = None  # "runs" / "evals": the failure is recorded in a new run directory there


FAST = {
    # unknown config groups, options and keys
    "unknown-option": Case(("model=resnet",), "Could not find 'model/resnet'. Available options in 'model'"),
    "unknown-group": Case(
        ("optimizer=sgd",),
        "Could not override 'optimizer': no such key or config group in the config; did you mean optim=sgd?",
    ),
    "unknown-key": Case(
        ("optim.learning_rate=0.1",),
        "Could not override 'optim.learning_rate': no such key or config group in the config; "
        "did you mean optim.lr=0.1?",
    ),
    "misspelt-trainer-key": Case(
        ("trainer.max_epoch=3",),
        "Could not override 'trainer.max_epoch': no such key or config group in the config; "
        "did you mean trainer.max_epochs=3?",
    ),
    "unknown-logger": Case(
        ("logger=wandbb",),
        "Could not find 'logger/wandbb'. Available options in 'logger': csv, many, tensorboard, wandb; "
        "did you mean logger=wandb?",
    ),
    # ... with what was probably meant: case, close spellings, synonyms, the group or key elsewhere
    "option-in-capitals": Case(("model=LeNet",), "cnn8, lenet, mlp, sobel; did you mean model=lenet?"),
    "misspelt-option": Case(("model=lent",), "did you mean model=lenet?"),
    "misspelt-option-in-sweep": Case(("-m", "model=mlp,lent"), "did you mean model=lenet?"),
    "group-in-capitals": Case(("Model=mlp",), "did you mean model=mlp?"),
    "top-level-epochs": Case(
        ("epochs=3",),
        "Could not override 'epochs': no such key or config group in the config; did you mean trainer.max_epochs=3?",
    ),
    "trainer-argument-without-plus": Case(
        ("trainer.limit_train_batches=2",), "did you mean ++trainer.limit_train_batches=2?"
    ),
    # keys added with + or ++ that nothing would read: refused, not silently ignored
    "added-epochs": Case(
        ("+epochs=3",),
        "+epochs=3: epochs is not a key of the config and nothing reads it (a run would ignore it); "
        "did you mean trainer.max_epochs=3?",
    ),
    "force-added-epochs": Case(("++epochs=3",), "did you mean trainer.max_epochs=3?"),
    "added-non-trainer-argument": Case(
        ("++trainer.limit_train_batche=2",),
        "trainer.limit_train_batche is not an argument of pytorch_lightning.Trainer; "
        "did you mean ++trainer.limit_train_batches=2?",
    ),
    "added-non-dataset-argument": Case(("+dataset.batchsize=32",), "did you mean dataset.batch_size=32?"),
    # options typed as --name value: the Hydra form
    "dashed-option": Case(
        ("--model", "lenet"),
        "--model lenet: settings are Hydra overrides written without dashes: python train.py model=lenet",
    ),
    "dashed-option-with-equals": Case(("--model=lenet",), "python train.py model=lenet"),
    "dashed-epochs": Case(
        ("--epochs", "3"),
        "--epochs 3: settings are Hydra overrides written without dashes: python train.py trainer.max_epochs=3",
    ),
    "dashed-unknown": Case(("--verbose",), "--verbose: not an option of python train.py"),
    "eval-dashed-option": Case(("--ckpt_path", "x.ckpt"), "python eval.py ckpt_path=x.ckpt", script="eval.py"),
    "unknown-option-in-sweep": Case(("-m", "model=lenet,resnet"), "Could not find 'model/resnet'"),
    "empty-option": Case(("model=",), "Could not find 'model/'"),
    # wrong types
    "lr-not-a-number": Case(("optim.lr=fast",), "optim.lr='fast' is not valid: must be a number > 0"),
    "batch-size-float": Case(("dataset.batch_size=1.5",), "dataset.batch_size=1.5 is out of range: must be an integer"),
    "epochs-not-a-number": Case(("trainer.max_epochs=ten",), "trainer.max_epochs='ten' is not valid"),
    "seed-not-a-number": Case(("seed=abc",), "seed='abc' is not valid: must be an integer >= 0"),
    "threads-not-a-number": Case(("threads=two",), "threads='two' is not valid"),
    # out-of-range values
    "negative-lr": Case(("optim.lr=-1",), "optim.lr=-1 is out of range: must be a number > 0"),
    "dropout-one": Case(
        ("model=mlp", "model.dropout=1"), "model.dropout=1 is out of range: must be a number in [0, 1)"
    ),
    "zero-val-fraction": Case(("dataset.val_fraction=0",), "dataset.val_fraction=0 is out of range"),
    "momentum-above-one": Case(("optim=sgd", "optim.momentum=1.5"), "optim.momentum=1.5 is out of range"),
    "fold-outside-folds": Case(("dataset.folds=4", "dataset.fold=7"), "dataset.fold=7 is out of range"),
    "one-class": Case(("model.num_classes=1",), "model.num_classes=1 is out of range: must be an integer >= 2"),
    "negative-epochs": Case(("trainer.max_epochs=-2",), "trainer.max_epochs=-2 is out of range"),
    # no silent non-results: 0 epochs, steps or batches would train nothing and report an untrained model
    "zero-epochs": Case(
        ("trainer.max_epochs=0",), "trainer.max_epochs=0 is out of range: must be an integer >= 1 (0 trains nothing)"
    ),
    "zero-steps": Case(("++trainer.max_steps=0",), "trainer.max_steps=0 is out of range: must be -1 (no limit) or"),
    "zero-train-batches": Case(("++trainer.limit_train_batches=0",), "trainer.limit_train_batches=0 is out of range"),
    "zero-fraction-of-train-batches": Case(
        ("++trainer.limit_train_batches=0.0",), "trainer.limit_train_batches=0.0 is out of range"
    ),
    "zero-epochs-in-sweep": Case(("-m", "trainer.max_epochs=1,0"), "trainer.max_epochs=0 is out of range"),
    # missing files
    "csv-without-path": Case(("dataset=csv",), "dataset.path has no value"),
    "missing-csv": Case(("dataset=csv", "dataset.path=missing.csv"), "dataset.path=missing.csv: no such file"),
    "missing-checkpoint": Case(("ckpt_path=missing.ckpt",), "ckpt_path=missing.ckpt: no such file"),
    "eval-without-checkpoint": Case((), "ckpt_path has no value", script="eval.py"),
    "eval-missing-checkpoint": Case(("ckpt_path=missing.ckpt",), "ckpt_path=missing.ckpt: no such file", "eval.py"),
    # unwritable output directories
    "log-dir-under-a-file": Case(("paths.log_dir=blocker/outputs",), "paths.log_dir=blocker/outputs: cannot create it"),
    "run-dir-under-a-file": Case(("hydra.run.dir=blocker/run",), "hydra.run.dir=blocker/run: cannot create it"),
    # distributed runs that cannot work
    "ddp-inside-a-basic-sweep": Case(("-m", "trainer=ddp", "seed=0,1"), "cannot run inside a sweep on BasicLauncher"),
}

SLOW = {
    # incompatible model / dataset / loss pairs (the check imports the classes: torch)
    "filter-model-on-digits": Case(("model=sobel",), "model=sobel cannot be used with dataset=digits"),
    "filter-model-with-mse": Case(("model=sobel", "loss=mse"), "model=sobel cannot be used with dataset=digits"),
    # the model built and given one input of the data's shape before any run directory exists
    "classes-mismatch": Case(
        ("model.num_classes=5",), "model=lenet gives 5 class scores per input, but dataset=digits gives 1 x 28 x 28"
    ),
    "channels-mismatch": Case(
        ("model.in_channels=3",), "model=lenet expects 3 input channels, but dataset=digits gives 1 x 28 x 28"
    ),
    "bad-precision": Case(("trainer.precision=banana",), "trainer: Precision 'banana' is invalid", new_dir="runs"),
    "zero-devices": Case(("trainer.devices=0",), "Trainer(devices=0)", new_dir="runs"),
    # data and checkpoints that cannot be used
    "mnist-offline-without-files": Case(("dataset=mnist", "dataset.download=false"), "not found", new_dir="runs"),
    "too-small-for-a-validation-split": Case(
        ("dataset=csv", "dataset.path=tiny.csv"),
        "dataset.val_fraction=0.1: cannot split 30 samples stratified by class",
        new_dir="runs",
    ),
    "resume-unsafe-checkpoint": Case(("ckpt_path=unsafe.ckpt",), "could run code; refused", new_dir="runs"),
    "resume-truncated-checkpoint": Case(("ckpt_path=truncated.ckpt",), "corrupt or truncated", new_dir="runs"),
    "resume-another-model": Case(
        ("ckpt_path=other_model.ckpt",), "weights do not fit this run's model", new_dir="runs"
    ),
    "resume-last-without-runs": Case(("ckpt_path=last",), "ckpt_path=last: no checkpoints/last.ckpt", new_dir="runs"),
    "eval-unsafe-checkpoint": Case(("ckpt_path=unsafe.ckpt",), "could run code; refused", "eval.py", "evals"),
    "eval-truncated-checkpoint": Case(("ckpt_path=truncated.ckpt",), "corrupt or truncated", "eval.py", "evals"),
}


class RunsCode:
    """Unpickling this creates ``code-ran`` in the working directory."""

    def __reduce__(self) -> tuple:
        return os.mkdir, ("code-ran",)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory with an earlier run, a file where a directory is expected, and bad checkpoints."""
    ws = tmp_path_factory.mktemp("workspace")
    earlier = ws / "outputs" / "runs" / "earlier"
    (earlier / "checkpoints").mkdir(parents=True)
    (earlier / "results.json").write_text(json.dumps({"status": "ok"}))
    (earlier / "checkpoints" / "last.ckpt").write_bytes(b"earlier weights")
    (ws / "blocker").write_text("a file, not a directory")
    weights = {"state_dict": {"model.w": torch.zeros(3)}, "optimizer_states": [{"state": {}}], "epoch": 0}
    torch.save(weights, ws / "other_model.ckpt")
    torch.save({**weights, "callbacks": RunsCode()}, ws / "unsafe.ckpt")
    (ws / "truncated.ckpt").write_bytes((ws / "other_model.ckpt").read_bytes()[:600])
    data = fake_mnist(
        40, 0
    )  # 40 rows: after the 25% test split, a 10% validation split holds fewer images than classes
    write_digit_csv(ws / "tiny.csv", data["train-images-idx3-ubyte"], data["train-labels-idx1-ubyte"])
    return ws


def snapshot(folder: Path) -> dict[str, tuple]:
    out = {}
    for p in folder.rglob("*"):
        stat = p.stat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        out[str(p.relative_to(folder))] = (p.is_dir(), stat.st_mtime_ns, digest)
    return out


def run_cases(cases: dict[str, Case], workspace: Path, tmp: Path) -> dict[str, tuple]:
    """Run every case in its own copy of the workspace, a few at a time; return (case, proc, before, after, cwd)."""

    def one(name: str) -> tuple:
        cwd = tmp / name
        shutil.copytree(workspace, cwd, symlinks=True)
        before = snapshot(cwd)
        proc = run_cli(cases[name].script, *cases[name].args, cwd=cwd, timeout=600)
        return cases[name], proc, before, snapshot(cwd), cwd

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(cases, pool.map(one, cases), strict=True))


def run_cases_in_one_process(cases: dict[str, Case], workspace: Path, tmp: Path) -> dict[str, tuple]:
    """As run_cases, all cases in one process (helpers.run_cli_batch), one after another."""
    before = {}
    for name in cases:
        shutil.copytree(workspace, tmp / name, symlinks=True)
        before[name] = snapshot(tmp / name)
    procs = run_cli_batch({name: (c.script, list(c.args), tmp / name) for name, c in cases.items()}, tmp)
    return {name: (c, procs[name], before[name], snapshot(tmp / name), tmp / name) for name, c in cases.items()}


@pytest.fixture(scope="module")
def fast_outcomes(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    return run_cases_in_one_process(FAST, workspace, tmp_path_factory.mktemp("fast"))


@pytest.fixture(scope="module")
def slow_outcomes(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    return run_cases(SLOW, workspace, tmp_path_factory.mktemp("slow"))


def check(outcome: tuple) -> None:
    case, proc, before, after, cwd = outcome
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert lines[0].startswith("convlab: error: ") and case.says in lines[0], lines[0]
    assert not (cwd / "code-ran").exists()

    added = sorted(set(after) - set(before))
    changed = sorted(p for p in before if after.get(p) != before[p])
    if case.new_dir is None:
        assert added == [] and changed == [], (added, changed)
        return
    # One new run directory, holding a results.json that records the failure; nothing else changed.
    parent = Path("outputs") / case.new_dir
    new_dirs = [p for p in added if Path(p).parent == parent]
    assert len(new_dirs) == 1, added
    assert all(Path(p) == Path(new_dirs[0]) or Path(new_dirs[0]) in Path(p).parents or p == str(parent) for p in added)
    assert set(changed) <= {str(parent), "outputs"}, changed  # directories whose listing gained the new entry
    record = json.loads((cwd / new_dirs[0] / "results.json").read_text())
    assert record["status"] == "failed" and record["error"] in lines[0]


def test_the_catalogue_is_at_least_twenty_command_lines() -> None:
    assert len(FAST) >= 20 and len(FAST) + len(SLOW) >= 35


@pytest.mark.parametrize("name", list(FAST))
def test_bad_command_line(fast_outcomes: dict[str, tuple], name: str) -> None:
    check(fast_outcomes[name])


def test_a_bad_command_line_in_a_process_of_its_own(workspace: Path, tmp_path: Path) -> None:
    """The catalogue above shares one process; a real ``python train.py`` ends the same way."""
    check(run_cases({"misspelt-option": FAST["misspelt-option"]}, workspace, tmp_path)["misspelt-option"])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW))
def test_bad_command_line_found_after_imports(slow_outcomes: dict[str, tuple], name: str) -> None:
    check(slow_outcomes[name])


@pytest.mark.slow  # the message: tests/unit/test_data_idx.py; the command line: SLOW's mnist-offline-without-files
def test_missing_mnist_offline_names_the_directory(tmp_path: Path) -> None:
    proc = run_cli("train.py", "dataset=mnist", "dataset.download=false", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert str(tmp_path / "data" / "MNIST" / "raw") in line and "not found" in line
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    assert json.loads((run_dir / "results.json").read_text())["status"] == "failed"
