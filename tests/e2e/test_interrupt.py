"""Ctrl-C through the real command line: a subprocess sent SIGINT after its first training step leaves
results.json with status interrupted, a checkpoint, the command that resumes it (which works), and exits 130;
in a sweep, the jobs not yet run are named and skip_done=true runs what is left."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import cli_env, printed_lines, run_cli

from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import read_results

# The run as a user types it, minus the progress bar. The wrapper below only adds a callback that marks the first
# training step and slows every step, so the SIGINT surely lands inside the first epoch (no timing assumption).
NO_BAR = ["~callbacks.progress_bar", "++trainer.enable_progress_bar=false"]
RUN = ["trainer.max_epochs=1", "dataset.batch_size=8", "threads=1", "++trainer.limit_val_batches=1", *NO_BAR]
FIRST_STEP = "first_step_done"
WRAPPER = f"""
import signal, sys, time
from pathlib import Path
# Ctrl-C as a terminal delivers it, even when this test runs in a background job (whose SIGINT the shell ignores)
signal.signal(signal.SIGINT, signal.default_int_handler)
import pytorch_lightning as pl
import convlab.run.build as build

class MarkFirstStep(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        Path({FIRST_STEP!r}).touch()
        time.sleep(0.05)

real = build.build_callbacks
build.build_callbacks = lambda cfg, *args, **kwargs: [*real(cfg, *args, **kwargs), MarkFirstStep()]
sys.argv = ["train.py", *sys.argv[1:]]
from convlab.cli.train import main
main()
"""


def interrupt_after_first_step(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python train.py args`` in ``cwd``, sent SIGINT (as Ctrl-C does) once a training step has run."""
    wrapper = cwd / "train_marked.py"
    wrapper.write_text(WRAPPER)
    env = {k: v for k, v in cli_env(cwd).items() if k != "COLUMNS"}
    proc = subprocess.Popen(
        [sys.executable, str(wrapper), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while not (cwd / FIRST_STEP).exists():
            if proc.poll() is not None:
                pytest.fail(f"the run ended before its first step: {proc.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no training step within the time limit")
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def printed(stdout: str, label: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith(label)]
    return line[len(label) :].strip()


def test_ctrl_c_in_the_first_epoch_leaves_a_resumable_record_and_exits_130(tmp_path: Path) -> None:
    proc = interrupt_after_first_step(RUN, tmp_path)
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    record = read_results(run_dir)
    assert record["status"] == "interrupted" and "test" not in record
    assert record["epochs"] == 0 and record["interrupted_at_step"] == record["steps"] >= 1
    last = run_dir / "checkpoints" / "last.ckpt"
    assert record["resume_checkpoint"] == str(last)
    assert torch.load(last, weights_only=True)["global_step"] == record["steps"]  # saved on Ctrl-C
    command = printed(proc.stdout, "resume")
    assert command == record["resume_command"] == shlex.join(["python", "train.py", *RUN, f"ckpt_path={last}"])
    assert "interrupted: Ctrl-C at step" in proc.stdout

    resumed = run_cli(*shlex.split(command)[1:], cwd=tmp_path)  # the printed command, as a user pastes it
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    (resumed_dir,) = (d for d in (tmp_path / "outputs" / "runs").iterdir() if d != run_dir)
    again = read_results(resumed_dir)
    assert again["status"] == "ok" and again["resumed_from"] == str(last)
    assert again["steps"] > record["steps"] and again["epochs"] == 1


# Slow (a sweep, interrupted, then resumed: three subprocess runs). The fast suite: the lines it prints
# (test_a_sweep_interrupted_names_what_did_not_run, below), skip_done re-running unfinished jobs with the
# attempt kept aside (test_sweeps.py), a single run's Ctrl-C (above).
@pytest.mark.slow
def test_ctrl_c_in_a_sweep_names_the_jobs_not_run_and_skip_done_runs_them(tmp_path: Path) -> None:
    proc = interrupt_after_first_step(["-m", "model=lenet,mlp", *RUN], tmp_path)
    assert proc.returncode == 130, proc.stdout[-2000:] + proc.stderr[-2000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    (job,) = sweep_job_dirs(sweep)  # the first job; the others never started
    assert read_results(job)["status"] == "interrupted"
    lines = printed_lines(proc.stdout)
    assert len(lines) == 3, proc.stdout
    assert lines[0].startswith("interrupted ") and f" s  {job}  (Ctrl-C at step " in lines[0]
    assert printed(proc.stdout, "not run") == "#1 model=mlp"
    command = printed(proc.stdout, "resume this sweep")
    assert command.endswith(f"skip_done=true hydra.sweep.dir={sweep}")

    resumed = run_cli(*shlex.split(command)[1:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    jobs = sweep_job_dirs(sweep)  # not the report's picture folders
    assert [read_results(d)["status"] for d in jobs] == ["ok", "ok"]
    assert (jobs[0] / "attempts" / "1" / "results.json").is_file()  # the interrupted attempt, kept aside


def test_a_sweep_interrupted_names_what_did_not_run(tmp_path: Path, capsys) -> None:
    """What the command line prints after Ctrl-C in job #0 of a two-job sweep: the job not run and the command that
    runs what is left (the slow test above interrupts a real sweep and runs that command)."""
    from convlab.cli.train import say_what_was_interrupted
    from convlab.errors import RunInterrupted

    interrupted = RunInterrupted({"status": "interrupted", "steps": 1})
    interrupted.job_num, interrupted.job_dir = 0, tmp_path / "sweep" / "0_model=lenet"
    say_what_was_interrupted(interrupted, ["-m", "model=lenet,mlp", "trainer.max_epochs=1"])
    out = capsys.readouterr().out
    assert printed(out, "not run") == "#1 model=mlp"
    command = printed(out, "resume this sweep")
    assert shlex.split(command) == [
        *("python", "train.py", "-m", "model=lenet,mlp", "trainer.max_epochs=1"),
        *("skip_done=true", f"hydra.sweep.dir={tmp_path / 'sweep'}"),
    ]
