"""Where Hydra finds convlab's Optuna sweeper: Hydra accepts plugins only from the ``hydra_plugins`` namespace
package (and imports every module in it at start-up, so this one stays light). The sweeper lives in
convlab.sweeps.optuna_sweeper."""

from convlab.sweeps.optuna_sweeper import OptunaSweeperBase


class OptunaSweeper(OptunaSweeperBase):
    """conf/hydra/sweeper/optuna.yaml's ``_target_``."""
