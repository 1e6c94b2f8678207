"""The wheel carries the repository's conf/ as the package folder convlab/conf, where convlab.config.CONFIG_DIR
finds it when installed; in a clone (editable or PYTHONPATH=src) conf/ is read where it stands. Everything else
about the build, the YAML files as package data included, is in pyproject.toml: this file only adds the mapped
packages (conf/ and its group folders), which a static ``packages.find`` cannot express, and convlab's Hydra
plugins (hydra_plugins.convlab_*: portions of Hydra's namespace package, which ``find_packages`` skips).

An editable install (``pip install -e .``) leaves conf/ unmapped: a mapping outside src/ makes setuptools install
an import hook instead of putting src/ on sys.path, and Hydra finds plugins by listing the folders of
``hydra_plugins.__path__``, which that hook's placeholder entry cannot list ('Unknown plugin class' for
hydra/launcher=slurm)."""

import sys
from pathlib import Path

from setuptools import find_namespace_packages, setup

CONF = Path(__file__).parent / "conf"
GROUPS = sorted(".".join(d.relative_to(CONF).parts) for d in CONF.rglob("*") if d.is_dir())
EDITABLE = any(command in sys.argv for command in ("editable_wheel", "develop"))

packages = find_namespace_packages("src", include=["convlab", "convlab.*", "hydra_plugins.convlab_*"])
package_dir = {"": "src"}
if not EDITABLE:
    packages += ["convlab.conf", *(f"convlab.conf.{group}" for group in GROUPS)]
    package_dir["convlab.conf"] = "conf"

setup(packages=packages, package_dir=package_dir)
