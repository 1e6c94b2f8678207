"""The comparison of many runs: one row per job, read from its results.json.

Sources are sweep directories (every job subdirectory), run directories or results.json files. Every
number in the table is the job's own record (results.json, history.csv, predictions.npz); the report adds
only statistics over them: mean, std and t-interval over the repeats (seeds, folds) of one configuration,
and McNemar's exact test of each job against the best by validation accuracy (convlab.report.significance).
Jobs without a finished record stay visible:
"failed"/"diverged"/"interrupted" with their error, "missing" for a job directory without results.json
(killed). A finished job whose results look like chance (convlab.report.chance) is marked ⚠ in its status.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convlab.config.overrides import job_identity, override_key, override_value
from convlab.errors import ConvlabError
from convlab.report.chance import WARNING_MARK, run_warnings
from convlab.report.run_files import RunFiles, read_run_files
from convlab.report.significance import ALPHA, Paired, accuracy_interval, against_best, t_interval
from convlab.runfiles.results import RESULTS_NAME, read_results

# Overrides that repeat one configuration; jobs differing only in these are aggregated.
REPEAT_KEYS = ("seed", "dataset.fold")
MISSING = "missing"
STATUS_ORDER = {"ok": 0, "pruned": 1, "diverged": 2, "interrupted": 3, "failed": 4, MISSING: 5}


@dataclass
class Job:
    """One job of the comparison: its directory and its results.json (None when it has none)."""

    run_dir: Path
    results: dict[str, Any] | None

    @property
    def status(self) -> str:
        return self.results["status"] if self.results else MISSING

    @property
    def overrides(self) -> list[str]:
        """From results.json; for a job that wrote none, from Hydra's record of the job's command line."""
        if self.results:
            return job_identity(list(self.results.get("overrides") or []))
        hydra_record = self.run_dir / ".hydra" / "overrides.yaml"
        if hydra_record.is_file():
            from omegaconf import OmegaConf

            return job_identity([str(o) for o in OmegaConf.load(hydra_record)])
        return []

    @property
    def test(self) -> dict[str, Any]:
        return (self.results or {}).get("test") or {}

    def get(self, key: str) -> Any:
        return (self.results or {}).get(key)

    @property
    def warnings(self) -> list[str]:
        return run_warnings(self.results or {})

    @property
    def val_acc(self) -> float | None:
        value = (self.get("val") or {}).get("acc")
        return None if value is None else float(value)


@dataclass
class Group:
    """The repeats of one configuration (same overrides apart from seed / dataset.fold)."""

    key: tuple[str, ...]
    jobs: list[Job]
    label: str = ""

    @property
    def finished(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "ok"]

    def stat(self, metric: str) -> tuple[float | None, float | None]:
        """Mean and sample standard deviation (n-1) of a test metric over the finished repeats."""
        values = [float(j.test[metric]) for j in self.finished]
        if not values:
            return None, None
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    def interval(self, metric: str = "acc") -> tuple[float, float] | None:
        """95% t-interval of the mean of a test metric over the finished repeats (None with one)."""
        return t_interval([float(j.test[metric]) for j in self.finished], bounds=(0.0, 1.0))

    @property
    def val_mean(self) -> float | None:
        values = [j.val_acc for j in self.finished if j.val_acc is not None]
        return statistics.fmean(values) if values else None


@dataclass
class Comparison:
    jobs: list[Job]  # best test accuracy first, then diverged, interrupted, failed, missing
    labels: dict[Path, str]  # per job: the overrides that tell it apart from the others
    common: list[str]  # overrides every job shares
    groups: list[Group] = field(default_factory=list)  # only when some configuration was repeated
    sources: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. the Optuna study's best parameters
    files: RunFiles = field(default_factory=RunFiles)  # history.csv and predictions.npz per run
    paired: dict[Path, Paired] = field(default_factory=dict)  # per job: McNemar against the best
    best: dict[str, Path] = field(default_factory=dict)  # per test set fingerprint: the best job by val acc
    figure_notes: list[str] = field(default_factory=list)  # what a figure could not show, and why
    numbers: dict[Path, str] = field(default_factory=dict)  # per job: what names it in tables (job_numbers)

    def label(self, job: Job) -> str:
        return self.labels[job.run_dir]

    def number(self, job: Job) -> str:
        return self.numbers.get(job.run_dir) or job.run_dir.name

    @property
    def finished(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "ok"]

    def units(self) -> list[Group]:
        """What figures draw a line or point for: the configurations when repeated, else one per job."""
        if self.groups:
            return self.groups
        return [Group((self.label(j),), [j], self.label(j)) for j in self.jobs if j.results is not None]


# -- collecting -------------------------------------------------------------------------------------
def _job_number(path: Path) -> int | None:
    """Hydra's job number, which starts a multirun job directory's name (``3_model=lenet``)."""
    match = re.match(r"(\d+)_", path.name)
    return int(match.group(1)) if match else None


def _job_sort_key(path: Path) -> tuple[int, str]:
    number = _job_number(path)
    return (1 << 30 if number is None else number, path.name)


def job_numbers(jobs: Sequence[Job]) -> dict[Path, str]:
    """What names each job in the report: the number its directory starts with (else the directory's name), so
    ``3`` is ``3_model=lenet``; prefixed with the sweep's directory name where several sweeps share a number."""
    own = {j.run_dir: str(n) if (n := _job_number(j.run_dir)) is not None else j.run_dir.name for j in jobs}
    if len(set(own.values())) == len(own):
        return own
    return {d: f"{d.parent.name}/{n}" for d, n in own.items()}


def sweep_job_dirs(sweep_dir: Path) -> list[Path]:
    """Subdirectories that are jobs: they hold results.json, or Hydra's .hydra/ of a job that wrote none."""
    dirs = [d for d in sweep_dir.iterdir() if d.is_dir() and ((d / RESULTS_NAME).is_file() or (d / ".hydra").is_dir())]
    return sorted(dirs, key=_job_sort_key)


def collect_jobs(sources: Sequence[str | Path]) -> list[Job]:
    """Every job in ``sources``; a ConvlabError names the first source that holds no job or a bad file."""
    jobs: list[Job] = []
    seen: set[Path] = set()
    for source in map(Path, sources):
        if source.is_file():
            dirs = [source.parent] if source.name == RESULTS_NAME else []
            if not dirs:
                raise ConvlabError(f"{source}: not a results.json, run directory or sweep directory")
        elif (source / RESULTS_NAME).is_file():
            dirs = [source]
        elif source.is_dir():
            dirs = sweep_job_dirs(source)
            if not dirs:
                raise ConvlabError(f"{source}: no results.json in it or in its job subdirectories")
        else:
            raise ConvlabError(f"{source}: no such file or directory")
        for d in dirs:
            if d.resolve() in seen:
                continue
            seen.add(d.resolve())
            jobs.append(Job(d, read_results(d) if (d / RESULTS_NAME).is_file() else None))
    return jobs


# -- comparing --------------------------------------------------------------------------------------
def build_comparison(jobs: list[Job], sources: Sequence[Path] = (), read_files: bool = True) -> Comparison:
    """Rank, label and group the jobs; with ``read_files``, also read each run's history and predictions
    and test every job against the best on its test set."""
    if not jobs:
        raise ConvlabError("nothing to compare: no jobs found")
    # A single job keeps all its overrides as its label; several are told apart by what differs.
    common = sorted(set.intersection(*(set(j.overrides) for j in jobs))) if len(jobs) > 1 else []
    labels = {j.run_dir: " ".join(o for o in j.overrides if o not in common) or "(defaults)" for j in jobs}
    ranked = sorted(
        jobs,
        key=lambda j: (STATUS_ORDER.get(j.status, 9), -float(j.test.get("acc", 0.0)) if j.status == "ok" else 0.0),
    )
    comparison = Comparison(ranked, labels, common, sources=list(sources), numbers=job_numbers(jobs))
    comparison.groups = repeat_groups(comparison)
    comparison.notes = optuna_notes(sources)
    if read_files:
        comparison.files = read_run_files((j.run_dir, j.results) for j in jobs)
        paired_tests(comparison)
    return comparison


def paired_tests(comparison: Comparison) -> None:
    """McNemar against the best job (by val acc) among the jobs tested on the same samples (fingerprint)."""
    by_test_set: dict[str, list[Job]] = {}
    for job in comparison.finished:
        found = comparison.files.predictions.get(job.run_dir)
        if found is not None and job.val_acc is not None:
            by_test_set.setdefault(found.fingerprint, []).append(job)
    for fingerprint, jobs in by_test_set.items():
        sizes = {len(comparison.files.predictions[j.run_dir]) for j in jobs}
        if len(sizes) != 1:  # one fingerprint, different lengths: a damaged file; test nothing
            continue
        keyed = {str(j.run_dir): j for j in jobs}
        result = against_best([(k, j.val_acc, comparison.files.correct_by_index(j.run_dir)) for k, j in keyed.items()])
        if result is None:
            continue
        best, paired = result
        comparison.best[fingerprint] = keyed[best].run_dir
        comparison.paired.update({keyed[k].run_dir: p for k, p in paired.items()})


def repeat_groups(comparison: Comparison) -> list[Group]:
    """Configurations with repeats (seeds, folds, or the same overrides in several sweeps); [] if none."""
    groups: dict[tuple[str, ...], Group] = {}
    for job in comparison.jobs:
        if job.results is None:
            continue
        key = tuple(o for o in job.overrides if override_key(o) not in REPEAT_KEYS)
        groups.setdefault(key, Group(key, [])).jobs.append(job)
    if all(len(g.jobs) == 1 for g in groups.values()):
        return []
    for group in groups.values():
        group.label = " ".join(o for o in group.key if o not in comparison.common) or "(defaults)"
    return sorted(groups.values(), key=lambda g: -(g.stat("acc")[0] or -1.0))


def optuna_notes(sources: Sequence[Path]) -> list[str]:
    """The Optuna sweeper's verdict (optimization_results.yaml in a sweep directory), quoted as written."""
    notes = []
    for source in sources:
        path = Path(source) / "optimization_results.yaml"
        if path.is_file():
            from omegaconf import OmegaConf

            found = OmegaConf.load(path)
            params = " ".join(f"{k}={v}" for k, v in (found.get("best_params") or {}).items())
            value = found.get("best_value")
            value = f"{value:.4f}" if isinstance(value, float) else value
            notes.append(f"Optuna ({Path(source).name}): best {params} (validation accuracy {value})")
    return notes


# -- tables -----------------------------------------------------------------------------------------
# (key, markdown/html header); the CSV has these keys and a few more.
COLUMNS = [  # rank is the table's order; the first column names the job's directory
    ("job", "job"),
    ("overrides", "overrides"),
    ("dataset", "dataset"),
    ("model", "model"),
    ("optim", "optim"),
    ("loss", "loss"),
    ("params", "params"),
    ("flops", "FLOPs/sample"),
    ("test_acc", "test acc"),
    ("acc_ci95", "95% CI"),
    ("vs_best", "vs best: Holm p"),
    ("f1_macro", "macro F1"),
    ("test_loss", "test loss"),
    ("val_acc", "val acc"),
    ("epochs", "epochs"),
    ("train_seconds", "train s"),
    ("samples_per_second", "samples/s"),
    ("status", "status"),
]
CSV_EXTRA = ["mcnemar_b", "mcnemar_c", "mcnemar_p", "seed", "fold", "threads", "warnings", "error", "run_dir"]
BEST = "best"  # the vs-best cell of the job the others are tested against
# Right-aligned columns in markdown and html.
NUMERIC = {
    "job",
    "params",
    "flops",
    "test_acc",
    "acc_ci95",
    "vs_best",
    "f1_macro",
    "test_loss",
    "val_acc",
    "epochs",
    "train_seconds",
    "samples_per_second",
    "acc",
    "acc_t95",
    "val_mean",
}
GROUP_COLUMNS = [
    ("configuration", "configuration"),
    ("model", "model"),
    ("optim", "optim"),
    ("loss", "loss"),
    ("params", "params"),
    ("flops", "FLOPs/sample"),
    ("runs", "runs ok / all"),
    ("acc", "test acc (mean ± std)"),
    ("acc_t95", "95% t-interval of the mean"),
    ("val_mean", "val acc (mean)"),
    ("f1_macro", "macro F1 (mean ± std)"),
    ("repeats", "repeats"),
]


def job_row(comparison: Comparison, rank: int, job: Job) -> dict[str, Any]:
    """One job's table row, straight from its record."""
    fold = next((override_value(o) for o in job.overrides if override_key(o) == "dataset.fold"), None)
    paired = comparison.paired.get(job.run_dir)
    return {
        "rank": rank,
        "job": comparison.number(job),
        "overrides": comparison.label(job),
        **{k: job.get(k) for k in ("dataset", "model", "optim", "loss", "params", "epochs", "train_seconds")},
        "flops": job.get("flops_per_sample"),
        "test_acc": job.test.get("acc"),
        "acc_ci95": accuracy_interval(job.test) if job.status == "ok" else None,
        "vs_best": BEST if job.run_dir in comparison.best.values() else (paired.p_holm if paired else None),
        "mcnemar_b": paired.b if paired else None,
        "mcnemar_c": paired.c if paired else None,
        "mcnemar_p": paired.p if paired else None,
        "f1_macro": job.test.get("f1_macro"),
        "test_loss": job.test.get("loss"),
        "val_acc": (job.get("val") or {}).get("acc"),
        "samples_per_second": job.get("samples_per_second"),
        "status": job.status,
        "warnings": "; ".join(job.warnings) or None,  # shown as ⚠ beside the status (status_cell)
        "seed": job.get("seed"),
        "fold": fold,
        "threads": job.get("threads"),
        "error": _why_not_finished(job),
        "run_dir": str(job.run_dir.resolve()),
    }


def _why_not_finished(job: Job) -> str | None:
    if not job.results:
        return "no results.json: the job was killed or is still running"
    if job.status == "pruned":
        acc = (job.get("val") or {}).get("acc")
        return (
            f"stopped by the Optuna pruner after {job.get('pruned_after_epochs')} epoch(s), validation accuracy {acc}"
        )
    return job.get("error")


def job_rows(comparison: Comparison) -> list[dict[str, Any]]:
    return [job_row(comparison, i, job) for i, job in enumerate(comparison.jobs, 1)]


def group_rows(comparison: Comparison) -> list[dict[str, Any]]:
    rows = []
    for g in comparison.groups:
        first = g.jobs[0]
        repeats = sorted((o for j in g.jobs for o in j.overrides if override_key(o) in REPEAT_KEYS), key=_natural)
        rows.append(
            {
                "configuration": g.label,
                **{k: first.get(k) for k in ("model", "optim", "loss", "params")},
                "flops": first.get("flops_per_sample"),
                "runs": f"{len(g.finished)} / {len(g.jobs)}",
                "acc": g.stat("acc"),
                "acc_t95": g.interval("acc"),
                "val_mean": g.val_mean,
                "f1_macro": g.stat("f1_macro"),
                "repeats": " ".join(repeats) or "same overrides",
            }
        )
    return rows


def _natural(override: str) -> tuple[str, float, str]:
    """``seed=10`` after ``seed=9``."""
    key, value = override_key(override), override_value(override) or ""
    try:
        return key, float(value), ""
    except ValueError:
        return key, float("inf"), value


def format_cell(key: str, value: Any) -> str:
    """The text of a table cell (markdown and html)."""
    if value is None:
        return "–"
    if key in ("acc_ci95", "acc_t95"):
        return f"{value[0]:.4f}–{value[1]:.4f}"
    if key == "flops":
        return si_units(float(value))
    if key == "vs_best":
        return value if isinstance(value, str) else f"{value:.3g}" + (" *" if value < ALPHA else "")
    if isinstance(value, tuple):  # (mean, std)
        mean, std = value
        return "–" if mean is None else f"{mean:.4f} ± {std:.4f}"
    if key == "params":
        return f"{int(value):,}"
    if key in ("test_acc", "f1_macro", "test_loss", "val_acc", "val_mean"):
        return f"{float(value):.4f}"
    if key == "train_seconds":
        return f"{float(value):.1f}"
    if key == "samples_per_second":
        return f"{float(value):,.0f}"
    return str(value)


def si_units(value: float) -> str:
    """1340000 -> ``1.34 M``: FLOPs are read by their order of magnitude."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g}"


def status_cell(row: dict[str, Any]) -> str:
    """The status as tables show it: ``ok ⚠`` for a finished job whose results look like chance."""
    return f"{row['status']} {WARNING_MARK}" if row.get("warnings") else str(row["status"])


def to_csv(comparison: Comparison) -> str:
    """Machine-readable: full overrides of each job, raw numbers, then mean/std per repeated configuration."""
    keys = ["rank"] + [k for k, _ in COLUMNS if k != "acc_ci95"] + ["acc_ci95_low", "acc_ci95_high"] + CSV_EXTRA
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row, job in zip(job_rows(comparison), comparison.jobs, strict=True):
        low, high = row["acc_ci95"] or (None, None)
        writer.writerow({**row, "overrides": " ".join(job.overrides), "acc_ci95_low": low, "acc_ci95_high": high})
    return out.getvalue()


def groups_to_csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["configuration", "model", "optim", "loss", "params", "flops_per_sample", "runs_ok", "runs"]
    stats = ["acc_mean", "acc_std", "acc_t95_low", "acc_t95_high", "val_acc_mean", "f1_macro_mean", "f1_macro_std"]
    writer.writerow([*header, *stats, "repeats"])
    for g, row in zip(comparison.groups, group_rows(comparison), strict=True):
        (acc, acc_sd), (f1, f1_sd) = g.stat("acc"), g.stat("f1_macro")
        low, high = row["acc_t95"] or (None, None)
        identity = [" ".join(g.key), row["model"], row["optim"], row["loss"], row["params"], row["flops"]]
        counts = [len(g.finished), len(g.jobs)]
        writer.writerow([*identity, *counts, acc, acc_sd, low, high, row["val_mean"], f1, f1_sd, row["repeats"]])
    return out.getvalue()
