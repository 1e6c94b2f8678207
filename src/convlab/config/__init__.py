"""Configuration: where conf/ lives, override parsing, the checks a config passes before training, resolvers."""

from pathlib import Path

# The Hydra config tree (conf/ at the repository root), used by the entry points and compose_run.
CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
