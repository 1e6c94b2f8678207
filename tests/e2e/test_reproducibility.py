"""Same config and seed => the same results, bit for bit on CPU; a loss that blows up is reported, not hidden."""

from __future__ import annotations

from pathlib import Path

import torch
from helpers import QUICK

import convlab
from convlab.run.train import train
from convlab.runfiles.results import read_results

# The MLP has dropout, so its runs draw random numbers every step, not only at initialisation.
RUN = [
    *(o for o in QUICK if "limit_train" not in o and "max_epochs" not in o),
    "model=mlp",
    "trainer.max_epochs=2",
    "++trainer.limit_train_batches=6",
    "threads=1",
]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


def test_same_config_and_seed_give_identical_results(compose_cfg) -> None:
    records, dirs = [], []
    for name, extra in [("a", []), ("b", []), ("c", ["seed=1"])]:
        cfg = compose_cfg(RUN + extra, name)  # composed right before its run: it sets Hydra's global run info
        records.append(train(cfg))
        dirs.append(Path(cfg.paths.output_dir))

    assert read_results(dirs[0])["test"] == read_results(dirs[1])["test"]  # every float, every count
    a, b, c = (weights(d) for d in dirs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the seed matters: the comparison above can fail

    record = read_results(dirs[0])
    assert record["seed"] == 0 and records[2]["seed"] == 1
    assert {"python", "torch", "lightning", "torchmetrics", "hydra"} <= set(record["versions"])
    # The commit of the folder the command ran in (compose_run: the runs' parent, a temporary folder outside git),
    # never the package's own: test_example_project records a user's project's commit.
    assert record["git_commit"] is None and record["convlab_version"] == convlab.__version__


def test_a_diverging_run_stops_at_once_and_never_claims_ok(compose_cfg) -> None:
    cfg = compose_cfg([*QUICK, "model=mlp", "optim=sgd", "optim.lr=1e30", "++trainer.limit_train_batches=20"])
    record = train(cfg)
    on_disk = read_results(cfg.paths.output_dir)
    assert on_disk["status"] == record["status"] == "diverged"
    assert "test" not in on_disk  # no metrics of a broken model pass for results
    step = on_disk["diverged_at_step"]
    assert f"at step {step}" in on_disk["error"] and "lower optim.lr" in on_disk["error"]
    assert on_disk["steps"] == step < 20  # stopped where the loss blew up, not at the end of the epoch
