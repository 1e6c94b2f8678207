"""convlab from a project of one's own (examples/my_project): ``python -m convlab`` and the ``convlab`` command from a
folder outside the clone, the folder's modules importable, its conf/ added with --config-dir or hydra.searchpath,
printed commands that repeat how convlab was started; and, slow, the wheel of a clean clone installed without -e
running the example's commands as its README shows them."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CONVLAB_PLUGINS, QUICK, ROOT, cli_env, scanned_plugins

import convlab
from convlab.cli.precheck import precheck
from convlab.cli.train import check_train_job
from convlab.config.runtime import INVOCATION_VARIABLE, invocation, remember_invocation
from convlab.errors import ConvlabError
from convlab.runfiles.results import read_results
from convlab.sweeps.skip_done import resume_sweep_command

EXAMPLE = ROOT / "examples" / "my_project"


def example_commands() -> list[str]:
    """The ``convlab ...`` / ``python -m convlab ...`` lines of the example's README code blocks, as written."""
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    blocks = re.split(r"^```.*$", text, flags=re.M)[1::2]
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(("convlab ", "python -m convlab "))]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A copy of the example project in a folder of its own, outside the clone and outside git."""
    shutil.copytree(EXAMPLE, tmp_path / "my_project")
    yield tmp_path / "my_project"
    sys.modules.pop("mymodels", None)  # imported in-process by a pre-check: not another test's mymodels.py


def git_commit_all(folder: Path) -> str:
    """Make ``folder`` a git repository with everything in it committed; its commit."""
    identity = ["-c", "user.name=convlab tests", "-c", "user.email=tests@convlab.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "my project"]):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, timeout=60)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True).stdout.strip()


def test_python_m_convlab_trains_the_projects_own_model_from_its_folder(project: Path) -> None:
    """The issue's fast case: ``python -m convlab train --config-dir conf model=tiny`` in the project folder, a git
    repository of the user's own: results.json records its commit (convlab's own is its version)."""
    commit = git_commit_all(project)
    proc = subprocess.run(
        [sys.executable, "-m", "convlab", "train", "--config-dir", "conf", "model=tiny", *QUICK],
        cwd=project,
        env=cli_env(project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = (project / "outputs" / "runs").iterdir()
    record = read_results(run_dir)
    assert record["status"] == "ok" and record["model"] == "tiny"
    assert record["convlab_version"] == convlab.__version__
    assert record["git_commit"] == commit  # the user's project, never the package's folder; outputs/ untracked
    assert "TinyNet" in (run_dir / "model_summary.txt").read_text()


def test_the_precheck_finds_the_projects_groups_through_config_dir_and_searchpath(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))  # what convlab.cli.commands does for the folder it runs from
    precheck(["--config-dir=conf", "model=tiny"], "config", check_train_job)  # (--config-dir conf: the run above)
    precheck([f"hydra.searchpath=[file://{project / 'conf'}]", "model=tiny"], "config", check_train_job)
    with pytest.raises(ConvlabError, match=r"Could not find 'model/tiny'"):
        precheck(["model=tiny"], "config", check_train_job)  # without the project's conf/: not convlab's
    with pytest.raises(ConvlabError, match=r"^--config-dir nope: no such directory$"):
        precheck(["--config-dir", "nope", "model=tiny"], "config", check_train_job)


@pytest.mark.parametrize(
    ("argv0", "main_spec", "expected"),
    [
        ("train.py", None, "python train.py"),
        ("/home/me/convlab/train.py", None, "python train.py"),  # as the README shows it, from the clone
        ("/venv/bin/convlab", None, "convlab train"),
        ("/site/convlab/__main__.py", "convlab.__main__", "python -m convlab train"),
        ("/venv/bin/pytest", None, "python train.py"),  # in-process (tests): the clone's script
    ],
)
def test_printed_commands_start_the_way_the_user_started_convlab(
    argv0: str, main_spec: str | None, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    spec = types.SimpleNamespace(name=main_spec) if main_spec else None
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=spec))
    monkeypatch.delenv(INVOCATION_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    assert remember_invocation("train", ["model=mlp"]) == expected == invocation("train")
    assert invocation("eval") == "python eval.py"  # another command's: not this one's start
    # children (joblib, submitit, DDP) read it from the environment they inherit
    assert json.loads(os.environ[INVOCATION_VARIABLE])["line"] == expected
    resume = resume_sweep_command(["model=mlp,lenet"], tmp_path / "sweep")
    assert resume == f"{expected} -m model=mlp,lenet skip_done=true hydra.sweep.dir={tmp_path / 'sweep'}"
    with_conf = remember_invocation("train", ["--config-dir", "conf", "model=tiny"])
    assert with_conf == f"{expected} --config-dir {tmp_path / 'conf'}"  # resumable from anywhere: absolute


def test_the_convlab_command_refuses_an_unknown_command_in_one_line(capsys) -> None:
    from convlab.cli.commands import main

    with pytest.raises(SystemExit) as stopped:
        main(["fit", "model=lenet"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "convlab: error: fit: not a command of convlab; one of train, eval, compare, reproduce, visualize "
        "(convlab --help)"
    )
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0 and "convlab train" in capsys.readouterr().out


@pytest.mark.slow
def test_the_wheel_of_a_clean_clone_runs_the_example_project_as_its_readme_shows(tmp_path: Path) -> None:
    """``pip wheel`` of the committed tree, installed without -e into a folder of its own; the example's README
    commands run as written from a copy of the project (``convlab`` the wheel's console script)."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    options = ["--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "wheel", *options, "-w", str(wheels), str(clone)], check=True, timeout=300)
    (wheel,) = wheels.glob("convlab-*.whl")
    subprocess.run([*pip, "install", *options, "--target", str(site), str(wheel)], check=True, timeout=300)
    shutil.rmtree(clone)  # nothing left to read conf/ or train.py from but the installed copy
    assert (site / "convlab" / "conf" / "config.yaml").is_file() and (site / "bin" / "convlab").is_file()
    # Hydra's scan finds the wheel's launchers and sweeper (-S: no .pth read, so not the tests' editable install)
    deps = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]])}
    found = scanned_plugins(sys.executable, deps, "-S")
    assert set(found) >= CONVLAB_PLUGINS and all(Path(found[n]).is_relative_to(site) for n in CONVLAB_PLUGINS)

    project = tmp_path / "my_project"
    shutil.copytree(EXAMPLE, project)
    env = {**cli_env(project), "PYTHONPATH": str(site)}  # the installed copy, ahead of any editable install
    commands = example_commands()
    assert len(commands) >= 3 and any(c.startswith("convlab ") for c in commands)
    for command in commands:
        words = shlex.split(command)
        argv = [str(site / "bin" / "convlab"), *words[1:]] if words[0] == "convlab" else [sys.executable, *words[1:]]
        proc = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"
    records = [read_results(p.parent) for p in (project / "outputs").rglob("results.json")]
    assert len(records) == len(commands) + 1  # one per run, two for the sweep
    assert all(r["status"] == "ok" and r["convlab_version"] == convlab.__version__ for r in records)
    assert all(r["git_commit"] is None for r in records)  # the project is not in git, and the clone is gone
    assert {r["model"] for r in records} >= {"tiny", "lenet"}
    assert next((project / "outputs" / "sweeps").iterdir()).joinpath("report.html").is_file()
