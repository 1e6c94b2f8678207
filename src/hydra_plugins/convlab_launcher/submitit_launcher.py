"""Where Hydra finds convlab's submitit launchers (conf/hydra/launcher/submitit_local.yaml and slurm.yaml): Hydra
accepts plugins only from the ``hydra_plugins`` namespace package. Hydra's launchers submit the jobs;
convlab.sweeps.submitit_jobs waits for them so that a job that dies is recorded and the sweep goes on."""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


class _Waiting(BaseSubmititLauncher):
    def submit(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
        """Hydra's BaseSubmititLauncher.launch up to the submission (submitit 1.5, hydra-submitit-launcher 1.2)."""
        import submitit

        assert self.config is not None
        specific_init_keys = {"max_num_timeout"}
        init_params = {"folder": self.params["submitit_folder"]}
        init_params.update(**{f"{self._EXECUTOR}_{x}": y for x, y in self.params.items() if x in specific_init_keys})
        init_keys = specific_init_keys | {"submitit_folder"}
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init_params)
        baseparams = set(OmegaConf.structured(BaseQueueConf).keys())
        params = {
            x if x in baseparams else f"{self._EXECUTOR}_{x}": y for x, y in self.params.items() if x not in init_keys
        }
        executor.update_parameters(**params)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        job_params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.debug("#%d : %s", idx, " ".join(filter_overrides(overrides)))
            job_params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        return list(executor.map_array(self, *zip(*job_params, strict=True)))

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:  # a job, in its submitit process
        from convlab.sweeps.submitit_jobs import quiet_schema_warning

        quiet_schema_warning()
        return super().__call__(*args, **kwargs)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from convlab.sweeps.submitit_jobs import launch

        return launch(self, job_overrides, initial_job_idx)


class LocalLauncher(_Waiting):
    """hydra/launcher=submitit_local: each job a local process of its own."""

    _EXECUTOR = "local"


class SlurmLauncher(_Waiting):
    """hydra/launcher=slurm: each job a task of a SLURM job array."""

    _EXECUTOR = "slurm"
