"""An Optuna pruner under DDP (2 CPU processes, gloo): rank 0 asks the pruner, every rank stops at the same
epoch, the trial is reported once per epoch, and only rank 0's record says pruned. Before the decision was
broadcast, rank 1 trained on alone and the job hung until its time limit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.slow  # two processes importing torch and Lightning: about 15 s on 2 busy cores

RANK_SCRIPT = """
import json, sys
import optuna, torch, pytorch_lightning as pl
from torch.utils.data import DataLoader
from convlab.sweeps.pruning import OptunaPruning, record_pruning

journal, number = sys.argv[1], int(sys.argv[2])
storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
study = optuna.load_study(study_name="ddp", storage=storage, pruner=optuna.pruners.ThresholdPruner(lower=1.1))
trial = optuna.trial.Trial(study, storage.get_trial_id_from_study_id_trial_number(study._study_id, number))

class Module(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer, self.val_results = torch.nn.Linear(1, 1), {}
    def training_step(self, batch, batch_idx):
        return self.layer(batch.float().view(-1, 1)).sum()
    def validation_step(self, batch, batch_idx):
        pass
    def on_validation_epoch_end(self):
        self.val_results = {"acc": 0.5}  # under the threshold: pruned at its first report
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)
    def train_dataloader(self):
        return DataLoader(torch.arange(8), batch_size=2)
    def val_dataloader(self):
        return DataLoader(torch.arange(4), batch_size=2)

pruning = OptunaPruning(trial)
trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=5, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     num_sanity_val_steps=0, callbacks=[pruning])
trainer.fit(Module())
record = {"status": "ok"}
record_pruning(record, trainer.callbacks)
print(json.dumps({"rank": trainer.global_rank, "epoch": trainer.current_epoch, "record": record}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_ranks_stop_together_when_rank_0s_trial_is_pruned(tmp_path: Path) -> None:
    journal = tmp_path / "optuna.journal"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.create_study(study_name="ddp", storage=storage, direction="maximize")
    trial = study.ask()
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "RANK", "WORLD_SIZE", "LOCAL_RANK"))}
    base.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), WORLD_SIZE="2", NODE_RANK="0")
    ranks = [
        subprocess.Popen(
            [sys.executable, str(script), str(journal), str(trial.number)],
            env={**base, "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = []
    try:
        for proc in ranks:
            out, err = proc.communicate(timeout=180)  # a rank left training alone: it hangs here
            assert proc.returncode == 0, err[-3000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in ranks:
            proc.kill()
    by_rank = {o["rank"]: o for o in outputs}
    assert by_rank[0]["epoch"] == by_rank[1]["epoch"] == 1  # both stopped after epoch 1 of 5
    assert by_rank[0]["record"] == {"status": "pruned", "pruned_after_epochs": 1, "val": {"acc": 0.5}}
    assert by_rank[1]["record"]["status"] == "pruned"  # the same decision (rank 1 writes no results.json)
    reported = study.trials[trial.number].intermediate_values
    assert reported == {0: 0.5}  # rank 0 alone reported, once
