"""Shared test helpers: run a command as a user would, the quick-run overrides, generated IDX/CSV files."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[1]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# A fast run: one epoch of two batches, no progress bar (tests read results, not terminals).
QUICK = [
    "trainer.max_epochs=1",
    "++trainer.limit_train_batches=2",
    "++trainer.limit_val_batches=1",
    "~callbacks.progress_bar",
    "++trainer.enable_progress_bar=false",
    "~callbacks.model_summary",
    "++trainer.enable_model_summary=false",
]


def cli_env(cwd: Path) -> dict[str, str]:
    """The environment of a user running a command in ``cwd`` (data under ``cwd/data``, short errors)."""
    env = {**os.environ, "CONVLAB_DATA_DIR": str(cwd / "data"), "COLUMNS": "120"}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def run_cli(
    script: str, *args: str, cwd: Path, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python <script> args`` from the repository as a user would, inside ``cwd``; ``env`` sets (or, with
    None, removes) environment variables."""
    settings = {"CONVLAB_DATA_DIR": str(cwd / "data"), "COLUMNS": "120", "HYDRA_FULL_ERROR": None, **(env or {})}
    env = {k: v for k, v in {**os.environ, **settings}.items() if v is not None}
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli_batch(commands: dict[str, tuple[str, list[str], Path]], tmp: Path) -> dict[str, SimpleNamespace]:
    """Run several ``python <script> args`` command lines (name: (script, args, cwd)) one after another in ONE
    process (tests/catalogue_runner.py), each as the script runs it; their returncode, stdout and stderr by name.
    One interpreter start and one set of imports for all: for command lines that end before any training."""
    spec = {
        name: {"script": script, "args": list(args), "cwd": str(cwd)} for name, (script, args, cwd) in commands.items()
    }
    (tmp / "commands.json").write_text(json.dumps(spec))
    env = {k: v for k, v in {**os.environ, "COLUMNS": "120"}.items() if k != "HYDRA_FULL_ERROR"}
    runner = [sys.executable, str(ROOT / "tests" / "catalogue_runner.py"), str(tmp / "commands.json")]
    proc = subprocess.run(runner, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    return {name: SimpleNamespace(**outcome) for name, outcome in outcomes.items()}


def printed_lines(stdout: str) -> list[str]:
    """What a command printed, line by line, without the note a run logs when it started on a busy machine
    (its timings are not the machine's own): that depends on the host, not on the command."""
    from convlab.run.environment import BUSY_NOTE_MARK

    return [line for line in stdout.splitlines() if BUSY_NOTE_MARK not in line]


# -- generated IDX files ----------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding of a uint8 array: magic 0x0000080N, big-endian dims, raw bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(n_train: int = 200, n_test: int = 50, seed: int = 0) -> dict[str, np.ndarray]:
    """Learnable stand-in digits: each class is a bright bar at its own row band, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 250
        return images.astype(np.uint8), labels.astype(np.uint8)

    tr_x, tr_y = make(n_train)
    te_x, te_y = make(n_test)
    return {
        "train-images-idx3-ubyte": tr_x,
        "train-labels-idx1-ubyte": tr_y,
        "t10k-images-idx3-ubyte": te_x,
        "t10k-labels-idx1-ubyte": te_y,
    }


def write_idx_files(folder: Path, arrays: dict[str, np.ndarray], gz: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def write_digit_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = [",".join(map(str, [int(y), *x.reshape(-1).tolist()])) for x, y in zip(images, labels, strict=True)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


# -- train.py in this process ---------------------------------------------------------------------------
# No W&B account here, whatever the developer's machine has: the default mode must come out offline.
NO_WANDB_ACCOUNT = {"WANDB_API_KEY": None, "WANDB_MODE": None, "NETRC": "/nonexistent/netrc"}


def train_py(*args: str, cwd: Path, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    """``python train.py args`` in ``cwd``, run in this process (the interpreter and its imports are the
    slow part of a subprocess here): the same main(), pre-check, Hydra launcher and callbacks. Returns the
    exit code and stdout."""
    from convlab.cli.train import main

    root = logging.getLogger()
    saved_logging = root.handlers[:], root.level  # Hydra configures logging for every job
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.chdir(cwd)
        patch.setattr(sys, "argv", ["train.py", *args])
        # OMP_WAIT_POLICY: main() may set it for a parallel sweep; the monkeypatch puts it back afterwards
        settings = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), **(env or {})}
        for name, value in {"CONVLAB_DATA_DIR": str(cwd / "data"), "COLUMNS": "120", **settings}.items():
            patch.delenv(name, raising=False) if value is None else patch.setenv(name, value)
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        finally:
            GlobalHydra.instance().clear()
            root.handlers[:], _ = saved_logging
            root.setLevel(saved_logging[1])
    return code, out.getvalue()


def the_sweep(cwd: Path) -> Path:
    (sweep,) = (cwd / "outputs" / "sweeps").iterdir()
    return sweep


# convlab's Hydra plugins, which Hydra must find however convlab is installed (tests/e2e/test_install.py).
CONVLAB_PLUGINS = {
    "hydra_plugins.convlab_launcher.submitit_launcher.LocalLauncher",
    "hydra_plugins.convlab_launcher.submitit_launcher.SlurmLauncher",
    "hydra_plugins.convlab_sweeper.optuna_sweeper.OptunaSweeper",
}
# Hydra's own scan, in a process of its own (what `train.py -m hydra/launcher=slurm` does on start), printing every
# plugin class it found and the file each came from.
SCAN = """
import inspect
import json
from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
found = [*Plugins.instance().discover(Launcher), *Plugins.instance().discover(Sweeper)]
print(json.dumps({f"{c.__module__}.{c.__name__}": inspect.getfile(c) for c in found}))
"""


def scanned_plugins(python: str, env: dict[str, str] | None = None, *flags: str) -> dict[str, str]:
    """The plugin classes Hydra's scan finds under ``python`` (class name: file), run from a folder of its own."""
    proc = subprocess.run(
        [python, *flags, "-c", SCAN], capture_output=True, text=True, timeout=120, env=env, cwd=Path.home()
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ctrl_c_reaches_it() -> None:
    """A ``preexec_fn`` for a child a test sends SIGINT (Ctrl-C): SIGINT at its default, as under a terminal. A
    shell starts a background job with SIGINT ignored, children inherit that, and Python then installs no
    KeyboardInterrupt handler: run from such a job (nohup ... &, a CI runner's script), the test would otherwise
    signal a process that cannot hear it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_train(cwd: Path, *args: str, merge_output: bool = False) -> subprocess.Popen:
    """``python train.py args`` in ``cwd`` as a user starts it, left running while the test acts on it (kills a job,
    sends Ctrl-C): text output, stderr into stdout with ``merge_output``; Ctrl-C reaches it."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=cli_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_reaches_it,
    )
