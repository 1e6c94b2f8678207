"""python scripts/ci/chaos.py [--launcher joblib|slurm] [--seed N] [--workdir DIR] ...

The chaos test of issue 28: two workers run one Optuna study (`python train.py -m hparams_search=optuna ...`,
pruning on) while this script injects faults into it, then checks that the study still tells the truth.

- ``--launcher joblib`` (the default; no SLURM, no database): a journal study under --workdir, trials run by
  joblib; faults: two jobs SIGKILLed, one worker SIGKILLed (and started again). A minute or two.
- ``--launcher slurm``: a PostgreSQL study (CONVLAB_TEST_POSTGRES, default the scripts/ci/postgres.sh server)
  of at least 12 trials through ``hydra/launcher=slurm``; faults: a job SIGKILLed, one ``scancel``ed, one
  ``scontrol requeue``d, one sent the time-limit signal (USR2, what submitit's sbatch asks SLURM for before the
  limit), one worker SIGKILLed (started again), and the PostgreSQL server restarted.

The pruner (threshold, 0.5) decides once, after epoch 2. Every job fault waits until its target trial's history.csv
shows training under way past that decision (epoch 3 done) with at least two epochs left; targets are trial numbers
drawn from --seed (a finished, pruned or retried target passes the fault to the next trial number). At the end it
checks: exactly n_trials finished trials that are not superseded (user attribute ``retry_of``), none RUNNING; every
trial's state and value equal the results.json at the top level of its job directory; the requeued and time-limited
jobs end ``ok`` with the history, test accuracy and test loss of an uninterrupted run of the same config (run here,
without SLURM); the comparison report lists every trial once. It prints a table and exits 0 only when every fault
was injected and survived, no trial was lost, no record disagrees and no process hung. Whatever happens, it ends
every process and SLURM job it started.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

POSTGRES = os.environ.get("CONVLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/optuna")
JOB_DIR_ATTRS = ("job_dir", "run_dir")  # the trial's user attribute naming its job directory (sweeper's, today's)
RETRY_ATTR = "retry_of"  # a retry's user attribute: the number of the trial it supersedes
SURPLUS_ATTR = "convlab_surplus"  # asked after the study was full, told FAIL, never run
POLL_S = 0.25
EPOCHS_LEFT = 2  # a job fault lands only on a trial with at least this many epochs still to train
# The pruner (threshold: each trial judged on its own accuracy, so the same whether or not a fault hit it) decides
# once, on the validation accuracy of epoch PRUNE_STEP + 1 (0-based step PRUNE_STEP: a hopeless learning rate shows
# by then), and a job fault lands only once the next epoch's row shows training went on past that decision: its
# target is never pruned before it is hit, and a requeued or time-limited target, never pruned afterwards, always
# reaches its test, whose numbers are compared with an uninterrupted run's.
PRUNE_STEP = 1
PRUNE_BELOW = 0.5  # validation accuracy: LeNet on digits is above 0.8 after 2 epochs unless its learning rate is off
FAULT_GAP_S = 5  # a fault comes at least this long after the one before it
HANG_GRACE_S = 20  # after the last worker ended, what is still running after this long is hung

# Small LeNet trials on the bundled digits (41 batches an epoch): one thread, no bars, pruning on.
TRIAL_ARGS = [
    "hparams_search=optuna",
    "pruner=threshold",
    "model=lenet",
    "dataset.batch_size=32",
    "threads=1",
    "~callbacks.progress_bar",
    "++trainer.enable_progress_bar=false",
    "~callbacks.model_summary",
    "++trainer.enable_model_summary=false",
]
SLURM_JOBS = ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=10"]
JOB_FAULTS = {
    "joblib": ["kill job", "kill job"],
    "slurm": ["kill job", "scancel job", "requeue job", "time-limit signal"],
}
IN_PLACE = ("requeue job", "time-limit signal")  # faults a job survives in its own directory, same numbers


@dataclass
class Fault:
    kind: str
    planned: int | None = None  # the trial number a job fault waits for
    trial: int | None = None  # the trial it hit
    at_s: float | None = None  # seconds into the run
    detail: str = ""
    survived: bool = False
    verdict: str = "not injected"
    running_then: list[int] = field(default_factory=list)  # trials under way when a worker or the database went


@dataclass
class Worker:
    index: int
    sweep_dir: Path
    proc: subprocess.Popen
    killed: bool = False


# -- processes and jobs, read from /proc and SLURM --------------------------------------------------------------
def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def pids_holding(path: Path) -> list[int]:
    """Processes with ``path`` open (a job's train.log: the process running that job)."""
    found = []
    for pid in _pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in fds):
                found.append(pid)
        except OSError:  # gone, or not ours to read
            continue
    return found


def pids_working_in(root: Path) -> list[int]:
    """Processes whose working directory is under ``root`` (every worker, job and SLURM task started there)."""
    mine = {os.getpid(), os.getppid()}
    found = []
    for pid in _pids():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if pid not in mine and (cwd == str(root) or cwd.startswith(f"{root}/")):
            found.append(pid)
    return found


def slurm_job_of(pid: int) -> str | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    values = dict(item.decode(errors="replace").split("=", 1) for item in env if b"=" in item)
    if "SLURM_ARRAY_TASK_ID" in values:  # an array's task by its own name: the array's id would hit every task
        return f"{values['SLURM_ARRAY_JOB_ID']}_{values['SLURM_ARRAY_TASK_ID']}"
    return values.get("SLURM_JOB_ID")


def _run(*command: str, check: bool = True) -> str:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {(proc.stderr or proc.stdout).strip()[:300]}")
    return proc.stdout


def our_slurm_jobs(workdir: Path) -> list[str]:
    """SLURM jobs still queued or running that were submitted from ``workdir`` (squeue's work directory)."""
    if shutil.which("squeue") is None:
        return []
    lines = _run("squeue", "-h", "-r", "-o", "%i|%Z", check=False).splitlines()  # -r: an array's tasks one by one
    return [
        i for i, _, wd in (line.partition("|") for line in lines) if wd == str(workdir) or wd.startswith(f"{workdir}/")
    ]


# -- the study's trials as their job directories show them -------------------------------------------------------
def trial_dirs(workdir: Path) -> dict[int, list[Path]]:
    """Job directories by trial number (``trial_<n>_...`` in any worker's sweep directory)."""
    found: dict[int, list[Path]] = {}
    for path in sorted(workdir.glob("sweeps/*/trial_*")):
        number = path.name.split("_")[1]
        if path.is_dir() and number.isdigit():
            found.setdefault(int(number), []).append(path)
    return found


def epochs_done(job_dir: Path) -> int:
    try:
        return max(0, len((job_dir / "history.csv").read_text().splitlines()) - 1)
    except OSError:
        return 0


def under_way(job_dir: Path, epochs: int, first: int = PRUNE_STEP + 2) -> int | None:
    """The pid training this job when its history shows ``first`` epochs done (by default: past the pruner's
    decision) and enough epochs left, else None."""
    done = epochs_done(job_dir)
    if (job_dir / "results.json").exists() or not first <= done <= epochs - EPOCHS_LEFT:
        return None
    pids = pids_holding(job_dir / "train.log")
    return min(pids) if pids else None


# -- the run ---------------------------------------------------------------------------------------------------
class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir
        self.rng = random.Random(args.seed)
        self.t0 = time.monotonic()
        self.workers: list[Worker] = []
        self.starts = 0
        self.exits: list[str] = []  # "worker 0 (sweeps/w0_0): exit 0"
        self.study_name = f"chaos-{args.seed}-{int(time.time())}" if args.launcher == "slurm" else "chaos"
        self.storage = POSTGRES if args.launcher == "slurm" else f"{self.workdir}/study.journal"
        self.retry_numbers: set[int] = set()
        self.faults = self._plan()
        self.pg_stopped = False

    def _plan(self) -> list[Fault]:
        kinds = JOB_FAULTS[self.args.launcher]
        numbers = sorted(self.rng.sample(range(1, self.args.trials - 3), len(kinds)))  # early: later ones may not run
        self.rng.shuffle(kinds := list(kinds))
        faults = [Fault(kind, planned=n) for kind, n in zip(kinds, numbers, strict=True)]
        worker = Fault("kill worker", planned=self.rng.randrange(2))  # which worker first
        if self.args.launcher == "joblib":  # last: its jobs die with it, and the study is small
            return [*faults, worker]
        # right after the first job fault (the loop tries faults in this order): while the study has work under way
        return [faults[0], worker, Fault("restart database"), *faults[1:]]

    def worker_command(self, sweep_dir: Path) -> list[str]:
        a = self.args
        command = [
            sys.executable,
            str(ROOT / "train.py"),
            "-m",
            *TRIAL_ARGS,
            f"trainer.max_epochs={a.epochs}",
            f"pruner.n_warmup_steps={PRUNE_STEP}",
            f"pruner.interval_steps={a.epochs}",  # the next decision would be after the last epoch: none
            f"pruner.lower={PRUNE_BELOW}",
        ]
        command += [
            f"hydra.sweeper.n_trials={a.trials}",
            f"hydra.sweeper.storage={self.storage}",
            f"hydra.sweeper.study_name={self.study_name}",
            f"hydra.sweeper.sampler.seed={a.seed}",
            "hydra.sweeper.n_jobs=2",
            f"hydra.sweep.dir={sweep_dir}",
        ]
        if a.launcher == "joblib":
            # Under joblib one fault kills the whole batch (the pool breaks; a killed worker takes its pool), so a
            # retry can die as another trial's sibling: one retry per fault the run injects, so that a trial is
            # lost only if convlab loses it, not because the run hit its line more often than its retries allow.
            retries = f"hydra.sweeper.retries={len(JOB_FAULTS['joblib']) + 1}"
            return [*command, retries, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
        return [*command, "hydra/launcher=slurm", f"hydra.launcher.partition={a.partition}", *SLURM_JOBS]

    def start_worker(self, index: int) -> None:
        sweep_dir = self.workdir / "sweeps" / f"w{index}_{self.starts}"
        self.starts += 1
        log = open(self.workdir / f"{sweep_dir.name}.log", "w")  # noqa: SIM115 (the worker's whole life)
        env = {**os.environ, "CONVLAB_DATA_DIR": str(self.workdir / "data"), "PYTHONUNBUFFERED": "1"}
        env.pop("HYDRA_FULL_ERROR", None)
        proc = subprocess.Popen(
            self.worker_command(sweep_dir),
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: ended as one at the end
        )
        self.workers.append(Worker(index, sweep_dir, proc))
        self.say(f"worker {index} started: pid {proc.pid}, {sweep_dir.relative_to(self.workdir)}")

    def say(self, line: str) -> None:
        print(f"[{self.elapsed():6.1f} s] {line}", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def live_workers(self) -> list[Worker]:
        return [w for w in self.workers if w.proc.poll() is None]

    # -- the loop
    def run(self) -> None:
        for index in range(2):
            self.start_worker(index)
        deadline = self.t0 + self.args.timeout
        while time.monotonic() < deadline:
            for w in self.workers:
                if w.proc.poll() is not None and not any(w.sweep_dir.name in e for e in self.exits):
                    self.exits.append(f"worker {w.index} ({w.sweep_dir.name}): exit {w.proc.returncode}")
                    self.say(self.exits[-1] + (" (killed by this script)" if w.killed else ""))
            if not self.live_workers():
                return
            times = [f.at_s for f in self.faults if f.at_s is not None]
            if not times or self.elapsed() - max(times) >= FAULT_GAP_S:  # one fault at a time, each seen alone
                for fault in self.faults:
                    if fault.at_s is None:
                        self._try(fault)
                        if fault.at_s is not None:
                            break
            time.sleep(POLL_S)
        self.say(f"workers still running after --timeout {self.args.timeout} s")

    def _try(self, fault: Fault) -> None:
        if fault.kind == "kill worker":
            self._kill_worker(fault)
        elif fault.kind == "restart database":
            self._restart_database(fault)
        else:
            self._job_fault(fault)

    def _targeted(self) -> set[int]:
        return {f.trial for f in self.faults if f.trial is not None}

    def _job_fault(self, fault: Fault) -> None:
        dirs = trial_dirs(self.workdir)
        planned = fault.planned
        assert planned is not None
        while planned in dirs:  # a planned trial that ended, was hit already or is a retry: the next one takes it
            retry = self._is_retry(planned)
            if retry is None:
                return  # the database restarting: ask again on the next poll
            if not (retry or self._passed(dirs[planned][0]) or planned in self._targeted()):
                break
            planned += 1
        fault.planned = planned
        if planned not in dirs:
            return
        job_dir = dirs[planned][0]
        pid = under_way(job_dir, self.args.epochs)
        if pid is None:
            return
        detail = f"pid {pid} at epoch {epochs_done(job_dir) + 1} of {self.args.epochs}"
        slurm_job = slurm_job_of(pid)
        if fault.kind == "kill job":
            os.kill(pid, signal.SIGKILL)
        elif slurm_job is None:
            return  # not yet inside its SLURM step
        elif fault.kind == "scancel job":
            _run("scancel", slurm_job)
        elif fault.kind == "requeue job":
            _run("scontrol", "requeue", slurm_job)
        else:  # the time-limit signal: SLURM sends it to the job's steps (--signal=USR2@<delay>), as here
            _run("scancel", "--signal=USR2", slurm_job)
        detail += f", SLURM job {slurm_job}" if slurm_job else ""
        self._landed(fault, planned, detail)

    def _passed(self, job_dir: Path) -> bool:
        """Ended, too far on, or dead (a joblib batch's sibling, a killed worker's job; a requeued job between its
        attempts): a job whose log no process holds open any more (a job holds its train.log from start to exit)."""
        log = job_dir / "train.log"
        return (
            (job_dir / "results.json").exists()
            or epochs_done(job_dir) > self.args.epochs - EPOCHS_LEFT
            or (log.exists() and not pids_holding(log))
        )

    def _is_retry(self, number: int) -> bool | None:
        """A retry is never a target: it would need a second retry. Read from the study (None while it is down)."""
        if number in self.retry_numbers:
            return True
        try:
            trial = self._trial(number)
        except Exception:  # the database restarting: ask again on the next poll
            return None
        if RETRY_ATTR in trial.user_attrs:
            self.retry_numbers.add(number)
        return RETRY_ATTR in trial.user_attrs

    def _trial(self, number: int) -> Any:
        study = load_study(self.storage, self.study_name)
        return study._storage.get_trial(study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number))

    def _landed(self, fault: Fault, trial: int | None, detail: str) -> None:
        fault.trial, fault.at_s, fault.detail = trial, self.elapsed(), detail
        self.say(f"{fault.kind}: trial {trial}, {detail}" if trial is not None else f"{fault.kind}: {detail}")

    def _busy(self, sweep_dir: Path | None = None) -> list[int]:
        """Trials training, an epoch done (in ``sweep_dir``, else anywhere): what a worker kill or the database
        restart hits."""
        return [
            n
            for n, dirs in trial_dirs(self.workdir).items()
            if (sweep_dir is None or dirs[0].parent == sweep_dir) and under_way(dirs[0], self.args.epochs, first=1)
        ]

    def _job_faults_done(self) -> int:
        return sum(1 for f in self.faults if f.kind not in ("kill worker", "restart database") and f.at_s is not None)

    def _kill_worker(self, fault: Fault) -> None:
        if self._job_faults_done() < 1:  # after the first job fault, while the study has work under way
            return
        order = sorted(self.live_workers(), key=lambda w: w.index != fault.planned)  # the drawn worker first
        worker, busy = next(((w, b) for w in order if not w.killed and (b := self._busy(w.sweep_dir))), (None, []))
        if worker is None:
            return
        if self.args.launcher == "slurm":
            os.kill(worker.proc.pid, signal.SIGKILL)  # the worker only: its jobs live on, on the cluster
        else:
            os.killpg(worker.proc.pid, signal.SIGKILL)  # the worker and its joblib processes: the machine's view
        worker.killed, fault.running_then = True, busy
        self._landed(fault, None, f"worker {worker.index} (pid {worker.proc.pid}) with trials {busy} under way")
        time.sleep(2)
        self.start_worker(worker.index)

    def _restart_database(self, fault: Fault) -> None:
        if self._job_faults_done() < 2 or not (busy := self._busy()):
            return
        fault.running_then = busy
        self._landed(fault, None, f"PostgreSQL stopped for 5 s with trials {busy} under way")
        self.pg_stopped = True
        postgres("stop")
        time.sleep(5)
        postgres("start")
        self.pg_stopped = False

    # -- the end, whatever happened
    def cleanup(self, interrupted: bool) -> int:
        """End everything this run started; the number of processes and SLURM jobs still alive (hung) once every
        worker ended by itself. ``interrupted`` (Ctrl-C, SIGTERM, an error here): the workers are ended first."""
        if self.pg_stopped:
            postgres("start")
        if interrupted:
            self._end_workers("interrupted")
        end = time.monotonic() + HANG_GRACE_S
        while time.monotonic() < end and (self.live_workers() or pids_working_in(self.workdir)):
            time.sleep(1)
        self._end_workers("still running at the end")
        jobs = our_slurm_jobs(self.workdir)
        end = time.monotonic() + HANG_GRACE_S
        while jobs and time.monotonic() < end:
            time.sleep(1)
            jobs = our_slurm_jobs(self.workdir)
        pids = pids_working_in(self.workdir)
        hung = len(pids) + len(jobs)
        if hung:
            self.say(f"hung: processes {pids}, SLURM jobs {jobs}: ended now")
        for job in jobs:
            _run("scancel", job, check=False)
        for pid in pids_working_in(self.workdir):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        return hung

    def _end_workers(self, why: str) -> None:
        for w in self.live_workers():
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait()
            self.exits.append(f"worker {w.index} ({w.sweep_dir.name}): {why}, killed")


def postgres(action: str) -> None:
    _run(str(ROOT / "scripts" / "ci" / "postgres.sh"), action)


def load_study(storage: str, name: str) -> Any:
    import optuna

    from convlab.sweeps.storage import open_storage, storage_spec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = storage if "://" in storage else storage_spec(f"journal:{storage}", ".")
    return optuna.load_study(study_name=name, storage=open_storage(spec))


# -- the verdict -------------------------------------------------------------------------------------------------
@dataclass
class Verdict:
    finished: int = 0
    lost: list[str] = field(default_factory=list)
    disagree: list[str] = field(default_factory=list)
    running: list[int] = field(default_factory=list)
    report: list[str] = field(default_factory=list)


def job_dir_of(trial: Any, dirs: dict[int, list[Path]]) -> Path | None:
    for attr in JOB_DIR_ATTRS:
        if trial.user_attrs.get(attr):
            return Path(trial.user_attrs[attr])
    found = dirs.get(trial.number, [])
    return found[0] if found else None


def expected(trial: Any, record: dict[str, Any] | None) -> tuple[str, float | None]:
    """What the study must say of a trial whose job wrote ``record`` (the sweeper's own rule)."""
    from convlab.sweeps.optuna_sweeper import outcome

    state, value = outcome(record)
    if state == "PRUNED" and not trial.intermediate_values:
        state = "FAIL"  # a pruned trial always reported an epoch
    return state, value


def check_study(study: Any, n_trials: int, workdir: Path) -> Verdict:
    from convlab.runfiles.results import read_results

    v = Verdict()
    dirs = trial_dirs(workdir)
    trials = [t for t in study.get_trials(deepcopy=False) if SURPLUS_ATTR not in t.user_attrs]
    superseded = {int(t.user_attrs[RETRY_ATTR]) for t in trials if RETRY_ATTR in t.user_attrs}
    for number, found in dirs.items():
        if len(found) > 1:
            v.disagree.append(f"trial {number}: {len(found)} job directories")
    for t in trials:
        if t.state.name == "RUNNING":
            v.running.append(t.number)
        job_dir = job_dir_of(t, dirs)
        record = read_results(job_dir) if job_dir and (job_dir / "results.json").is_file() else None
        state, value = expected(t, record)
        same = t.state.name == state and (value is None or (t.value is not None and math.isclose(t.value, value)))
        if not same:
            v.disagree.append(
                f"trial {t.number}: study {t.state.name} {t.value}, results.json "
                f"{(record or {}).get('status', 'missing')} -> {state} {value}"
            )
        if t.number in superseded:
            continue
        if t.state.name in ("COMPLETE", "PRUNED"):
            v.finished += 1
        elif t.state.name == "FAIL":
            v.finished += 1
            v.lost.append(f"trial {t.number} FAIL ({(record or {}).get('status', 'no results.json')})")
    if v.finished != n_trials:
        v.lost.append(f"{v.finished} finished trials not superseded, n_trials={n_trials}")
    return v


def check_report(workdir: Path, study: Any) -> list[str]:
    """The comparison report over every worker's sweep directory lists every trial that has a record, once."""
    out = workdir / "report"
    sweeps = sorted(str(p) for p in (workdir / "sweeps").iterdir() if p.is_dir())
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compare.py"), *sweeps, "--out", str(out)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if not (out / "comparison.csv").is_file():
        return [f"no report: compare.py exit {proc.returncode}: {proc.stderr.strip()[-300:]}"]
    with open(out / "comparison.csv", newline="") as f:
        listed = [row["job"].split("_")[1] for row in csv.DictReader(f) if row["job"].startswith("trial_")]
    problems = []
    dirs = trial_dirs(workdir)
    for number, found in sorted(dirs.items()):
        times = listed.count(str(number))
        if (found[0] / "results.json").is_file() and times != 1:
            problems.append(f"trial {number} listed {times} times in {out / 'comparison.csv'}")
    return problems


def reference_overrides(record: dict[str, Any]) -> list[str]:
    """A trial's job as a single run without Optuna: its overrides less the sweep's own."""
    drop = ("hparams_search=", "optuna_trial=", "pruner=", "pruner.")
    return [
        o[: -len("=null")] if o.startswith("~") and o.endswith("=null") else o
        for o in record["overrides"]
        if not o.startswith(drop)
    ]


def epoch_rows(run_dir: Path) -> list[dict[str, Any]]:
    """A run's history.csv rows without their wall-clock times: what an interrupted run must share with an
    uninterrupted one."""
    from convlab.runfiles.history import read_history

    return [{k: v for k, v in row.items() if k != "seconds"} for row in read_history(run_dir)]


def check_in_place(workdir: Path, faults: list[Fault]) -> dict[int, tuple[bool, str]]:
    """Requeued and time-limited jobs against an uninterrupted run of the same config: (equal, what was compared
    or why not)."""
    from convlab.runfiles.results import read_results

    dirs = trial_dirs(workdir)
    targets = [f.trial for f in faults if f.kind in IN_PLACE and f.trial is not None]
    runs = {}
    for n in targets:
        if not (dirs[n][0] / "results.json").is_file():
            continue
        ref = workdir / "reference" / f"trial_{n}"
        command = [sys.executable, str(ROOT / "train.py"), *reference_overrides(read_results(dirs[n][0]))]
        runs[n] = subprocess.Popen(
            [*command, f"hydra.run.dir={ref}"], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    why: dict[int, tuple[bool, str]] = {n: (False, "no results.json") for n in targets if n not in runs}
    for n, proc in runs.items():
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            why[n] = (False, f"reference run failed: {err.decode()[-300:]}")
            continue
        job, ref = read_results(dirs[n][0]), read_results(workdir / "reference" / f"trial_{n}")
        rows, ref_rows = epoch_rows(dirs[n][0]), epoch_rows(workdir / "reference" / f"trial_{n}")
        if not job.get("requeue_count"):
            why[n] = (False, f"status {job['status']} without a requeue (requeue_count {job.get('requeue_count')})")
        elif job["status"] != "ok":  # past the pruner's one decision when hit: nothing else stops it before test
            why[n] = (False, f"ended {job['status']}, not ok: no test to compare with the uninterrupted run's")
        elif rows != ref_rows[: len(rows)] or not rows:
            why[n] = (False, f"history differs from the uninterrupted run ({len(rows)} epochs)")
        elif (job["test"]["acc"], job["test"]["loss"]) != (
            ref["test"]["acc"],
            ref["test"]["loss"],
        ):
            why[n] = (
                False,
                (
                    f"test acc/loss {job['test']['acc']}/{job['test']['loss']}"
                    f" vs {ref['test']['acc']}/{ref['test']['loss']}"
                ),
            )
        else:
            tested = ", test acc and loss" if job["status"] == "ok" else ""
            why[n] = (
                True,
                f"requeued {job['requeue_count']}x, = uninterrupted run: {len(rows)} epochs of history{tested}",
            )
    return why


def judge(faults: list[Fault], study: Any, in_place: dict[int, tuple[bool, str]]) -> None:
    """Each injected fault's verdict: the trials it touched ended finished (their retries for a killed job) and
    the jobs it requeued ended with the uninterrupted run's numbers."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    retried = {int(t.user_attrs[RETRY_ATTR]): t.number for t in trials.values() if RETRY_ATTR in t.user_attrs}
    targets = {f.trial for f in faults if f.trial is not None}

    def ending(number: int) -> str:
        while number in retried:
            number = retried[number]
        state = trials[number].state.name if number in trials else "missing"
        return f"trial {number} {state}"

    for f in faults:
        if f.at_s is None:
            continue
        if f.trial is not None:
            end = ending(f.trial)
            same, compared = in_place.get(f.trial, (False, "not compared")) if f.kind in IN_PLACE else (True, "")
            moved = f.kind in IN_PLACE and f.trial in retried
            f.survived = end.endswith(("COMPLETE", "PRUNED")) and same and not moved
            f.verdict = f"ended as {end}" + (f"; {compared}" if compared else "") + (" (retried)" if moved else "")
        else:
            touched = [n for n in f.running_then if f.kind == "kill worker" or n not in targets]
            ends = [ending(n) for n in touched]
            retried_by_it = [n for n in touched if n in retried and n not in targets and f.kind == "restart database"]
            f.survived = all(e.endswith(("COMPLETE", "PRUNED")) for e in ends) and not retried_by_it
            f.verdict = "; ".join(ends) or "its trials: later faults' targets, judged there"
            f.verdict += f"; retried: {retried_by_it}" if retried_by_it else ""


def print_table(faults: list[Fault], v: Verdict, hung: int, exits: list[str]) -> bool:
    injected = [f for f in faults if f.at_s is not None]
    survived = [f for f in injected if f.survived]
    print("\nfault                 when     target / what it hit                                   outcome")
    for f in faults:
        when = f"{f.at_s:6.1f} s" if f.at_s is not None else "   never"
        what = (f"trial {f.trial}: " if f.trial is not None else "") + f.detail
        mark = "survived" if f.survived else "NOT SURVIVED"
        print(f"{f.kind:<21} {when}  {what:<54} {mark if f.at_s is not None else 'not injected'}: {f.verdict}")
    for line in exits:
        print(line)
    for line in v.lost + v.disagree + v.report:
        print(f"  ! {line}")
    rows = [
        ("faults injected", f"{len(injected)} of {len(faults)}"),
        ("faults survived", f"{len(survived)} of {len(injected)}"),
        ("finished trials (not superseded)", str(v.finished)),
        ("trials lost", str(len(v.lost))),
        ("trials RUNNING", str(len(v.running))),
        ("records that disagree with the study", str(len(v.disagree))),
        ("report problems", str(len(v.report))),
        ("hung processes", str(hung)),
    ]
    print()
    for name, value in rows:
        print(f"{name:<38} {value}")
    bad_exits = [e for e in exits if not e.endswith("exit 0") and "exit -9" not in e]
    return len(survived) == len(injected) == len(faults) and not (
        v.lost or v.disagree or v.running or v.report or hung or bad_exits
    )


def default_partition() -> str:
    name = os.environ.get("CONVLAB_SLURM_PARTITION")
    if name:
        return name
    listed = _run("sinfo", "-h", "-o", "%P").split()
    return next((p.rstrip("*") for p in listed if p.endswith("*")), listed[0])


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python scripts/ci/chaos.py",
        description="Inject faults into a two-worker Optuna study and check that it still tells the truth.",
    )
    p.add_argument("--launcher", choices=("joblib", "slurm"), default="joblib", help="joblib: no SLURM/database")
    p.add_argument("--seed", type=int, default=0, help="picks the targets and seeds the sampler (default 0)")
    p.add_argument("--trials", type=int, help="n_trials of the study (default 12)")
    p.add_argument("--epochs", type=int, help="epochs per trial (default 10 joblib, 7 slurm)")
    p.add_argument("--workdir", type=Path, help="where the study, sweeps and logs go (default a new /tmp dir)")
    p.add_argument("--partition", help="SLURM partition (default $CONVLAB_SLURM_PARTITION or sinfo's default)")
    p.add_argument("--timeout", type=float, help="seconds the workers may run (default 480 joblib, 600 slurm)")
    args = p.parse_args(argv)
    args.trials = args.trials or 12  # joblib: 10 ended before a third fault could land on a quiet machine
    # joblib's epochs take ~1.5 s on a quiet machine: 10 of them leave each target a window of seconds, not one
    # (SLURM: epochs 4 to 5 of 7 are where a job fault lands, about a second each; the job's start-up takes longer)
    args.epochs = args.epochs or (10 if args.launcher == "joblib" else 7)
    args.timeout = args.timeout or (480 if args.launcher == "joblib" else 600)
    if args.trials < 6 or args.epochs < PRUNE_STEP + 2 + EPOCHS_LEFT:
        p.error("--trials must be at least 6 and --epochs at least 5 (faults need trials and epochs to land in)")
    if args.launcher == "slurm":
        args.partition = args.partition or default_partition()
    args.workdir = (args.workdir or Path(tempfile.mkdtemp(prefix=f"chaos-{args.launcher}-"))).absolute()
    args.workdir.mkdir(parents=True, exist_ok=True)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    chaos = Chaos(args)
    print(f"chaos: {args.launcher}, seed {args.seed}, {args.trials} trials of {args.epochs} epochs in {args.workdir}")
    print(
        "plan: "
        + ", ".join(
            f.kind + (f" (trial {f.planned})" if f.kind not in ("kill worker", "restart database") else "")
            for f in chaos.faults
        )
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # cleanup runs on SIGTERM as on Ctrl-C
    interrupted = True
    try:
        chaos.run()
        interrupted = False
    finally:
        hung = chaos.cleanup(interrupted)
    print(f"workers done after {chaos.elapsed():.1f} s; checking the study")
    study = load_study(chaos.storage, chaos.study_name)
    verdict = check_study(study, args.trials, args.workdir)
    verdict.report = check_report(args.workdir, study)
    judge(chaos.faults, study, check_in_place(args.workdir, chaos.faults))
    passed = print_table(chaos.faults, verdict, hung, chaos.exits)
    if args.launcher == "slurm":
        import optuna

        optuna.delete_study(study_name=chaos.study_name, storage=study._storage)
    print(f"\nchaos: {'PASSED' if passed else 'FAILED'} in {chaos.elapsed():.0f} s ({args.workdir})")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
