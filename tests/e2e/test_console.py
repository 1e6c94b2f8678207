"""What train.py prints, through the real command line: a single run's header, compact model summary and result
block with paths never cut (stdout a pipe, no COLUMNS); train.log holding the same summary; one line per job of a
sweep; the chance-level warning on a run built to be at chance and its absence on a good run."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from helpers import QUICK, ROOT, printed_lines, run_cli, the_sweep, train_py

from convlab.report.chance import WARNING_MARK
from convlab.runfiles.results import read_results

# No progress bar (its redraws are not what is tested); the model summary stays, at its configured depth.
NO_BAR = ["~callbacks.progress_bar", "++trainer.enable_progress_bar=false"]


def test_a_single_run_prints_uncut_paths_a_compact_summary_and_train_log_holds_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "outputs" / "runs" / ("a_run_directory_whose_path_is_longer_than_any_terminal_" + "x" * 60)
    assert len(str(run_dir)) > 120
    # A good run: one full epoch of LeNet on the digits reaches ~0.9, far from chance.
    # The default callbacks: with stdout a pipe (a log file) the progress bar is left out by itself.
    proc = run_cli("train.py", "trainer.max_epochs=1", f"hydra.run.dir={run_dir}", cwd=tmp_path, env={"COLUMNS": None})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "Epoch 0" not in out and "\r" not in out
    lines = out.splitlines()
    assert lines[0].startswith("convlab train  dataset=digits model=lenet optim=rmsprop loss=ce")
    # The path a user copies is whole, on one line, in the header and in the result block.
    assert sum(line.startswith("run dir") and str(run_dir) in line for line in lines) == 2, out
    assert "…" not in "".join(line for line in lines if line.startswith(("run dir", "overrides")))
    # The terminal shows the top level of the model; every layer is in model_summary.txt.
    assert "model.features.0" not in out and "loss_fn" in out
    assert "model.features.0" in (run_dir / "model_summary.txt").read_text()
    results = read_results(run_dir)
    assert results["status"] == "ok" and results["test"]["acc"] > 0.5
    assert results["warnings"] == [] and WARNING_MARK not in out and "warning" not in out
    log = (run_dir / "train.log").read_text()
    for text in ("test accuracy", f"{results['test']['acc']:.4f}", f"run dir        {run_dir}", "confusion matrix"):
        assert text in log and text in out, text


# Slow (a run under a pseudo-terminal). Left out of a log file: the first test above, with the default callbacks.
@pytest.mark.slow
def test_the_progress_bar_is_drawn_in_a_terminal(tmp_path: Path) -> None:
    short = ["trainer.max_epochs=1", "++trainer.limit_train_batches=3", "++trainer.limit_val_batches=1"]
    # stdout a (pseudo-)terminal: the bar is drawn.
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 0 columns would hide the bar
    env = {**os.environ, "CONVLAB_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "120"}
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), *short, "hydra.run.dir=tty"],
            cwd=tmp_path, env=env, stdout=follower, stderr=err,
        )  # fmt: skip
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        os.close(leader)
        assert proc.wait(timeout=300) == 0, (tmp_path / "stderr.txt").read_text()[-2000:]
    assert b"Epoch 0" in shown and b"test accuracy" in shown


def test_a_run_at_chance_stays_ok_with_a_warning_in_results_summary_and_log(tmp_path: Path) -> None:
    # The example: cnn8 + RMSprop + MSE collapses to one class on the digits.
    chance = [*(o for o in QUICK if "limit_train" not in o), "++trainer.limit_train_batches=4"]
    code, out = train_py("model=cnn8", "optim=rmsprop", "loss=mse", *chance, cwd=tmp_path)
    assert code == 0, out[-3000:]
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    results = read_results(run_dir)
    assert results["status"] == "ok"
    assert results["test"]["acc"] < 0.15
    assert len(results["warnings"]) == 2
    assert results["warnings"][0].startswith("at chance level: test accuracy")
    assert "predicts one class" in results["warnings"][1]
    for warning in results["warnings"]:
        assert f"warning        {WARNING_MARK} {warning}" in out
        assert warning in (run_dir / "train.log").read_text()


def test_a_sweep_prints_one_line_per_job_and_the_report_once(tmp_path: Path) -> None:
    code, out = train_py("-m", "model=mlp,lenet", "loss=ce,mse", *QUICK, cwd=tmp_path)
    assert code == 0, out[-3000:]
    sweep = the_sweep(tmp_path)
    jobs = sorted(
        (d for d in sweep.iterdir() if d.is_dir() and d.name[0].isdigit()), key=lambda d: int(d.name.split("_")[0])
    )
    assert len(jobs) == 4  # the 4-job sweep printed 295 lines
    lines = printed_lines(out)
    assert len(lines) == len(jobs) + 2, out  # one line per job, the report, the resume command
    for line, job in zip(lines, jobs, strict=False):
        results = read_results(job)
        assert line.startswith(f"{results['status']:<11} test acc {results['test']['acc']:.4f}  "), line
        assert f" s  {job}" in line
        assert (WARNING_MARK in line) == bool(results["warnings"])
    assert lines[-2] == f"comparison report  {Path('outputs/sweeps') / sweep.name / 'report.html'}"
    assert lines[-1].startswith("resume this sweep  python train.py -m ")
    assert out.count("comparison report") == 1
