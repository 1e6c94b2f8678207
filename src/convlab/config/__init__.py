"""Configuration: where conf/ lives, override parsing, the checks a config passes before training, resolvers."""

from pathlib import Path

# The Hydra config tree, used by the entry points and compose_run. Installed from a wheel, conf/ ships inside the
# package as convlab/conf (setup.py maps it there); in a clone, editable or on PYTHONPATH=src, it is the
# repository's top-level conf/, read where it stands.
_PACKAGED_CONF = Path(__file__).resolve().parents[1] / "conf"
CONFIG_DIR = str(_PACKAGED_CONF if _PACKAGED_CONF.is_dir() else Path(__file__).resolve().parents[3] / "conf")
