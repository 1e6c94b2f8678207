"""constraints.txt, the versions CI tested: it pins every dependency, inside pyproject.toml's ranges."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

import pytest
from helpers import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            assert pinned, f"constraints.txt: {line!r} is not an exact pin"
            out[canonicalize_name(name)] = Version(pinned)
    return out


def requirements(extras: bool = True) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = [r for group in project["optional-dependencies"].values() for r in group] if extras else []
    return [Requirement(r) for r in [*project["dependencies"], *optional]]


def test_every_dependency_is_pinned_inside_its_range() -> None:
    pinned = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), f"{req.name}=={pinned[name]} outside {req}"


@pytest.mark.skipif(not os.environ.get("CI"), reason="CI installs with -c constraints.txt; a dev venv may differ")
def test_ci_installed_exactly_the_pinned_versions() -> None:
    pinned = pins()
    core = {canonicalize_name(r.name) for r in requirements(extras=False)}
    for req in requirements():
        try:
            installed = Version(version(req.name))
        except PackageNotFoundError:
            if canonicalize_name(req.name) in core:
                pytest.fail(f"{req.name} is not installed")
            continue  # an extra CI installs after the fast suite (postgres) or not at all (dashboard)
        assert Version(installed.public) == pinned[canonicalize_name(req.name)], req.name
