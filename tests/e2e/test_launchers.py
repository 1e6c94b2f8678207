"""Launchers: joblib jobs in parallel with their share of the cores, submitit (through its local executor,
as there is no SLURM here), and the sbatch script the slurm preset would submit."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import QUICK, run_cli
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from convlab.config import CONFIG_DIR
from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import read_results
from convlab.sweeps.threads import cpu_cores


class Submitted(Exception):
    """Raised instead of calling sbatch."""


def test_slurm_preset_renders_the_sbatch_script_convlab_jobs_need(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import submitit

    monkeypatch.chdir(tmp_path)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(
            "config", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=cpu"], return_hydra_config=True
        )
    launcher = instantiate(cfg.hydra.launcher)  # the plugin's own SlurmLauncher, with the preset's values
    launcher.setup(hydra_context=None, task_function=None, config=cfg)
    scripts = []

    def render_instead_of_submitting(executor, fn, *iterables):
        scripts.append(executor._executor._make_submission_file_text("python -u -m submitit.core._submit", "uid"))
        raise Submitted

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", render_instead_of_submitting)
    # submitit refuses to build a SLURM executor where there is no srun: behave as on a login node
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    with pytest.raises(Submitted):  # every preset key was accepted by submitit's SLURM executor
        launcher.launch([["model=mlp"], ["model=lenet"]], initial_job_idx=0)
    (script,) = scripts
    for line in ("--cpus-per-task=4", "--time=120", "--mem=16GB", "--partition=cpu", "--ntasks-per-node=1"):
        assert f"#SBATCH {line}" in script, line
    sweep_dir = Path(cfg.hydra.sweep.dir)
    assert f"#SBATCH --output={sweep_dir.resolve()}/.submitit/%j/%j_0_log.out" in script
    assert sweep_dir.name.endswith("_sweep")  # no swept key on this command line


@pytest.mark.slow
def test_joblib_runs_jobs_in_parallel_with_cores_shared_between_them(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py",
        "-m",
        "model=mlp,lenet",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *QUICK,
        cwd=tmp_path,
        env={"OMP_WAIT_POLICY": None},  # as a user without the variable set
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()  # every worker process found the same sweep dir
    records = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert sorted(r["model"] for r in records) == ["lenet", "mlp"] and {r["status"] for r in records} == {"ok"}
    threads = max(1, cpu_cores() // 2)
    assert {r["threads"] for r in records} == {threads} and (2 * threads <= cpu_cores() or threads == 1)
    assert {r["omp_wait_policy"] for r in records} == {"PASSIVE"}  # parallel jobs must not spin on shared cores
    assert (sweep / "report.html").is_file()


@pytest.mark.slow
def test_submitit_local_runs_each_job_as_a_submitit_job_with_cpus_per_task_threads(tmp_path: Path) -> None:
    proc = run_cli(
        "train.py",
        "-m",
        "model=mlp,lenet",
        "hydra/launcher=submitit_local",
        "hydra.launcher.cpus_per_task=1",
        "hydra.launcher.timeout_min=10",
        *QUICK,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "outputs" / "sweeps").iterdir()
    records = [read_results(job) for job in sweep_job_dirs(sweep)]
    assert sorted(r["model"] for r in records) == ["lenet", "mlp"] and {r["status"] for r in records} == {"ok"}
    assert {r["threads"] for r in records} == {1}
    assert len(list((sweep / ".submitit").rglob("*_result.pkl"))) == 2  # ran through submitit
    assert (sweep / "report.html").is_file()
