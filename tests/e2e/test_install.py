"""convlab's Hydra plugins (its submitit launchers and Optuna sweeper) are found by Hydra however convlab is
installed: Hydra accepts a launcher or sweeper only when its plugin scan lists the class ('Unknown plugin class'
otherwise, before any job starts), and that scan lists the folders of ``hydra_plugins.__path__``. Fast: the
environment the tests run in. Slow: ``pip install -e`` of a clean clone into a fresh environment, the way the
README's Quick start installs it (the import hook a mapped conf/ made setuptools write hid the plugins there)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import CONVLAB_PLUGINS, ROOT, scanned_plugins


def test_hydra_finds_convlabs_launchers_and_sweeper_where_the_tests_run() -> None:
    found = scanned_plugins(sys.executable)
    assert set(found) >= CONVLAB_PLUGINS
    assert all(Path(found[name]).is_file() for name in CONVLAB_PLUGINS)


@pytest.mark.slow
def test_an_editable_install_of_a_clean_clone_lets_hydra_find_convlabs_plugins(tmp_path: Path) -> None:
    """``pip install -e`` into a fresh environment (no convlab in it before): the plugins found are the clone's."""
    clone, venv = tmp_path / "clone", tmp_path / "venv"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # The tests' own pip, build tools and dependencies, on PYTHONPATH: no .pth there is read (not the tests' editable
    # convlab), and pip run by the fresh interpreter installs into the fresh environment.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    pip = [python, "-m", "pip", "--disable-pip-version-check", "-q", "install", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--no-index", "-e", str(clone)], check=True, timeout=300, env=env)
    found = scanned_plugins(python, env)
    assert set(found) >= CONVLAB_PLUGINS
    assert all(Path(found[name]).is_relative_to(clone / "src") for name in CONVLAB_PLUGINS)
