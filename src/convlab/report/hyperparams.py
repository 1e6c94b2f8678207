"""Accuracy against the swept hyperparameters: one panel per numeric override, parallel coordinates, Optuna's plots."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convlab.config.overrides import override_key, override_value
from convlab.report import figures  # figures.save: tests look inside each figure
from convlab.report.compare import REPEAT_KEYS, Comparison, Job
from convlab.report.figures import Picture, pyplot

ACCURACY_VS_HYPERPARAMETERS = "accuracy_vs_hyperparameters.png"
PARALLEL_COORDINATES = "parallel_coordinates.png"
OPTUNA_HISTORY = "optuna_history.png"
OPTUNA_IMPORTANCE = "optuna_importance.png"
LOG_SPAN = 10**1.5  # values spanning more than 1.5 decades are drawn on a log axis


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def swept_values(jobs: Sequence[Job]) -> dict[str, dict[Path, str]]:
    """Per override key that takes ≥ 2 distinct values over the jobs (repeat keys aside): each job's value,
    by its run directory."""
    values: dict[str, dict[Path, str]] = {}
    for job in jobs:
        for o in job.overrides:
            key, value = override_key(o), override_value(o)
            if key not in REPEAT_KEYS and value is not None:
                values.setdefault(key, {})[job.run_dir] = value
    return {k: v for k, v in values.items() if len(set(v.values())) >= 2}


def swept_numbers(jobs: Sequence[Job]) -> dict[str, dict[Path, float]]:
    """The swept keys whose every value is a number (optim.lr, dataset.batch_size, ...)."""
    numeric = {}
    for key, by_job in swept_values(jobs).items():
        parsed = {run_dir: _number(v) for run_dir, v in by_job.items()}
        if all(v is not None for v in parsed.values()):
            numeric[key] = parsed
    return numeric


def _log_axis(values: Sequence[float]) -> bool:
    low, high = min(values), max(values)
    return low > 0 and high / low > LOG_SPAN


def accuracy_vs_hyperparameters(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """Per swept number: every job's test accuracy, and the mean test and validation accuracy per value."""
    jobs = [j for j in comparison.finished if j.test.get("acc") is not None]
    swept = swept_numbers(jobs)
    if not swept:
        return []
    of = {j.run_dir: j for j in jobs}
    plt = pyplot()
    cols = min(3, len(swept))
    rows = math.ceil(len(swept) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), layout="constrained", squeeze=False)
    for ax, (key, by_job) in zip(axes.flat, swept.items(), strict=False):
        xs = np.array([by_job[j] for j in by_job])
        ax.scatter(
            xs, [float(of[d].test["acc"]) for d in by_job], s=10, alpha=0.35, color="tab:blue", label="test (a job)"
        )
        levels = sorted(set(xs.tolist()))
        for metric, style, label in (("test", "-", "test, mean"), ("val", "--", "validation, mean")):
            means = []
            for level in levels:
                chosen = [of[d] for d in by_job if by_job[d] == level]
                found = [j.test.get("acc") if metric == "test" else j.val_acc for j in chosen]
                found = [float(v) for v in found if v is not None]
                means.append(np.mean(found) if found else np.nan)
            ax.plot(levels, means, style, color="tab:orange" if metric == "test" else "tab:green", label=label)
        if _log_axis(levels):
            ax.set_xscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel("accuracy")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(swept) :]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("accuracy against each swept hyperparameter (other hyperparameters vary too)", fontsize=10)
    path = figures.save(fig, out_dir / ACCURACY_VS_HYPERPARAMETERS)
    caption = (
        "Test accuracy of every job against each numeric hyperparameter the sweep varied, with the mean test "
        "and validation accuracy at each value."
    )
    return [Picture(path, caption, "hyperparameters")]


def parallel_coordinates(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """A line per job through one vertical axis per swept number and one for test accuracy, coloured by it."""
    jobs = [j for j in comparison.finished if j.test.get("acc") is not None]
    swept = swept_numbers(jobs)
    if len(swept) < 2:
        return []
    jobs = [j for j in jobs if all(j.run_dir in by_job for by_job in swept.values())]
    columns: list[tuple[str, np.ndarray, bool]] = [
        (key, np.array([by_job[j.run_dir] for j in jobs]), _log_axis(list(by_job.values())))
        for key, by_job in swept.items()
    ]
    accuracy = np.array([float(j.test["acc"]) for j in jobs])
    columns.append(("test accuracy", accuracy, False))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2.2 * len(columns) + 2, 5))
    fig.subplots_adjust(left=0.06, right=0.88, top=0.9, bottom=0.1)

    def scaled(values: np.ndarray, log: bool) -> tuple[np.ndarray, float, float]:
        v = np.log10(values) if log else values.astype(float)
        low, high = float(v.min()), float(v.max())
        return (v - low) / ((high - low) or 1.0), low, high

    ys = np.array([scaled(v, log)[0] for _, v, log in columns])
    cmap = plt.get_cmap("viridis")
    span = (accuracy.max() - accuracy.min()) or 1.0
    for k in np.argsort(accuracy):  # best drawn last, on top
        ax.plot(range(len(columns)), ys[:, k], color=cmap((accuracy[k] - accuracy.min()) / span), lw=0.8, alpha=0.6)
    ax.set_xlim(-0.3, len(columns) - 0.7)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    ax.set_xticks(range(len(columns)), [f"{name}{' (log)' * log}" for name, _, log in columns], fontsize=8)
    min_gap = 12 / (5 * 0.8 * 72)  # 12 points between two value labels on one axis, in axis units
    for i, (_, values, log) in enumerate(columns):
        ax.axvline(i, color="0.3", lw=1)
        levels = sorted(set(values.tolist()))
        if len(levels) > 6:
            levels = [levels[0], levels[-1]]
        _, low, high = scaled(values, log)
        last = -1.0
        for level in levels:
            y = ((math.log10(level) if log else level) - low) / ((high - low) or 1.0)
            if y - last >= min_gap:
                ax.text(i + 0.04, y, f"{level:.4g}", fontsize=7, va="center", ha="left")
                last = y
    colours = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(accuracy.min(), accuracy.max()))
    fig.colorbar(colours, ax=ax, label="test accuracy", fraction=0.03)
    ax.set_title(f"parallel coordinates: {len(jobs)} jobs, coloured by test accuracy", fontsize=10)
    path = figures.save(fig, out_dir / PARALLEL_COORDINATES)
    caption = "Each job as a line through its hyperparameter values to its test accuracy (yellow: best)."
    return [Picture(path, caption, "hyperparameters")]


def _distribution(values: list[Any]) -> Any:
    """Optuna's distribution for the values a parameter took: int, float (log-uniform over a wide span) or
    categorical."""
    import optuna.distributions as d

    numbers = [_number(str(v)) for v in values]
    if all(n is not None for n in numbers):
        low, high = min(numbers), max(numbers)
        if all(float(n).is_integer() for n in numbers) and all("." not in str(v) for v in values):
            return d.IntDistribution(int(low), int(high))
        return d.FloatDistribution(low, high, log=_log_axis(numbers))
    return d.CategoricalDistribution(sorted({str(v) for v in values}))


def _param_value(text: str, distribution: Any) -> Any:
    import optuna.distributions as d

    if isinstance(distribution, d.CategoricalDistribution):
        return str(text)
    number = float(text)
    return int(number) if isinstance(distribution, d.IntDistribution) else number


def _swept_keys(source: Path, jobs: Sequence[Job]) -> list[str]:
    """The sweeper's parameters from Hydra's multirun.yaml, else the overrides that vary over the trials."""
    for record in (source / ".hydra" / "multirun.yaml", source / "multirun.yaml"):
        if record.is_file():
            from omegaconf import OmegaConf

            params = OmegaConf.select(OmegaConf.load(record), "hydra.sweeper.params")
            if params:
                return [str(k) for k in params]
    return list(swept_values(jobs))


def _trial_number(job: Job) -> float:
    """A job's Optuna trial number (its optuna_trial override): the history's order over several workers. (Not in
    ``job.overrides``, which leaves out the keys that do not identify a job.)"""
    found = [override_value(o) for o in job.get("overrides") or [] if override_key(o) == "optuna_trial"]
    return float(found[0]) if found and found[0] is not None and found[0].isdigit() else math.inf


def _optuna_trials(comparison: Comparison) -> tuple[list[str], list[Job], dict[str, dict[Path, str]]]:
    """(the Optuna sweep directories, their finished trials in trial order, each swept key's value per trial):
    every worker's sweep directory of one study becomes one history."""
    sources = [Path(s) for s in comparison.sources if (Path(s) / "optimization_results.yaml").is_file()]
    jobs: list[Job] = []
    keys: list[str] = []
    for source in sources:
        inside = source.resolve()
        mine = [j for j in comparison.finished if j.val_acc is not None and inside in j.run_dir.resolve().parents]
        jobs += mine
        keys += [k for k in _swept_keys(source, mine) if k not in keys]
    jobs.sort(key=_trial_number)
    by_key = {
        k: {j.run_dir: v for j in jobs for o in j.overrides if override_key(o) == k and (v := override_value(o))}
        for k in keys
    }
    by_key = {k: v for k, v in by_key.items() if len(v) == len(jobs) and len(set(v.values())) >= 2}
    return [s.name for s in sources], jobs, by_key


def optuna_figures(comparison: Comparison, out_dir: Path) -> list[Picture]:
    """Optuna's own history and importance plots over the Optuna sweeps' trials, rebuilt from their results.json
    (so a report over several workers' sweep directories draws one study)."""
    names, jobs, by_key = _optuna_trials(comparison)
    if not names:
        return []
    if len(jobs) < 2 or not by_key:
        comparison.figure_notes.append(f"Optuna plots not drawn for {', '.join(names)}: fewer than two trials.")
        return []
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    distributions = {k: _distribution(list(v.values())) for k, v in by_key.items()}
    verbosity = optuna.logging.get_verbosity()
    pictures: list[Picture] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # optuna.visualization.matplotlib
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            study = optuna.create_study(direction="maximize")
            for job in jobs:
                params = {k: _param_value(by_key[k][job.run_dir], distributions[k]) for k in by_key}
                study.add_trial(
                    optuna.trial.create_trial(params=params, distributions=distributions, value=job.val_acc)
                )
            for name, plot, words in (
                (OPTUNA_HISTORY, optuna_plots.plot_optimization_history, "Optuna's optimisation history"),
                (
                    OPTUNA_IMPORTANCE,
                    optuna_plots.plot_param_importances,
                    "Optuna's hyperparameter importances (fANOVA)",
                ),
            ):
                ax = plot(study)
                ax.figure.tight_layout()  # Optuna's figures clip long parameter names (dataset.batch_size)
                path = figures.save(ax.figure, out_dir / name)
                caption = f"{words} ({', '.join(names)}, objective: validation accuracy)."
                pictures.append(Picture(path, caption, "hyperparameters"))
        finally:
            optuna.logging.set_verbosity(verbosity)
    return pictures


def hyperparameter_figures(comparison: Comparison, out_dir: Path) -> list[Picture]:
    return [
        *accuracy_vs_hyperparameters(comparison, out_dir),
        *parallel_coordinates(comparison, out_dir),
        *optuna_figures(comparison, out_dir),
    ]
