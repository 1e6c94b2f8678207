"""Every config group composes; bad values and incompatible pairs are refused with the key named."""

from __future__ import annotations

import itertools

import pytest
from helpers import ROOT
from hydra.utils import instantiate
from omegaconf import OmegaConf

from convlab.cli.exit import one_line
from convlab.cli.precheck import MAX_PRECHECKED_JOBS, job_overrides
from convlab.config.checks import check_config
from convlab.config.overrides import NOT_IDENTITY_KEYS
from convlab.errors import ConfigError
from convlab.models import count_parameters

MODELS = {"mlp": 669_706, "lenet": 102_130, "cnn8": 7_293_578}


@pytest.mark.parametrize(("model", "optim", "loss"), list(itertools.product(MODELS, ["sgd", "rmsprop"], ["ce", "mse"])))
def test_every_classifier_combination_composes(compose_cfg, model: str, optim: str, loss: str) -> None:
    cfg = compose_cfg([f"model={model}", f"optim={optim}", f"loss={loss}"])
    check_config(cfg)
    assert count_parameters(instantiate(cfg.model)) == MODELS[model]
    assert instantiate(cfg.loss) is not None


def test_optimizer_defaults_are_the_published_ones(compose_cfg) -> None:
    sgd = compose_cfg(["optim=sgd"]).optim
    assert (sgd.lr, sgd.momentum) == (0.001, 0.9)
    rms = compose_cfg(["optim=rmsprop"]).optim
    assert (rms.lr, rms.alpha, rms.eps) == (0.001, 0.9, 1e-7)
    assert compose_cfg(["loss=mse"]).loss.activation == "softmax"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.lr=0"], r"optim.lr=0 is out of range: must be a number > 0"),
        (["optim.lr=-0.1"], r"optim.lr=-0.1 is out of range"),
        (["optim.lr=fast"], r"optim.lr='fast' is not valid: must be a number > 0"),
        (["dataset.batch_size=0"], r"dataset.batch_size=0 .* an integer > 0"),
        (["trainer.max_epochs=-1"], r"trainer.max_epochs=-1 .* an integer >= 1"),
        (["trainer.max_epochs=0"], r"trainer.max_epochs=0 is out of range: .* \(0 trains nothing\)"),
        (["++trainer.max_steps=0"], r"trainer.max_steps=0 is out of range: must be -1 \(no limit\) or"),
        (["++trainer.limit_train_batches=0.0"], r"trainer.limit_train_batches=0.0 is out of range"),
        (["model=mlp", "model.dropout=1.0"], r"model.dropout=1.0 .* \[0, 1\)"),
        (["model=mlp", "model.dropout=-0.1"], r"model.dropout=-0.1"),
        (["dataset.val_fraction=0"], r"dataset.val_fraction=0 .* \(0, 1\)"),
        (["dataset.test_fraction=1.5"], r"dataset.test_fraction=1.5 .* \(0, 1\)"),
        (["dataset.folds=1"], r"dataset.folds=1"),
        (["dataset.folds=4", "dataset.fold=4"], r"dataset.fold=4 .* \[0, 3\]"),
        (["threads=0"], r"threads=0"),
        (["optim=sgd", "optim.momentum=1.5"], r"optim.momentum=1.5"),
        (["dataset=csv"], r"dataset.path has no value"),
        (["dataset=csv", "dataset.path=/no/such.csv"], r"dataset.path=/no/such.csv: no such file"),
        (["model=sobel"], r"model=sobel cannot be used with dataset=digits"),
    ],
)
def test_bad_values_name_the_key_and_allowed_range(compose_cfg, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_config(compose_cfg(overrides))


def test_one_line_folds_hydra_option_lists() -> None:
    text = "In 'config': Could not find 'model/resnet'\n\nAvailable options in 'model':\n\tcnn8\n\tlenet\n"
    text += "Config search path:\n\tprovider=hydra"
    assert one_line(text) == "In 'config': Could not find 'model/resnet'. Available options in 'model': cnn8, lenet"


def test_multirun_command_lines_expand_to_every_job() -> None:
    jobs = job_overrides(["model=mlp,lenet", "optim=sgd,rmsprop", "seed=0"], multirun=True)
    assert len(jobs) == 4 and ["model=mlp", "optim=sgd", "seed=0"] in jobs
    assert job_overrides(["model=mlp"], multirun=False) == [["model=mlp"]]
    assert job_overrides(["+trainer.x=range(0,3)"], multirun=True) == [
        ["+trainer.x=0"],
        ["+trainer.x=1"],
        ["+trainer.x=2"],
    ]


def test_a_sweep_over_the_precheck_limit_says_it_checks_only_the_first_jobs(capsys) -> None:
    big = ["seed=range(0,600)"]  # a discrete sweep of 600 jobs
    assert len(job_overrides(big, multirun=True)) == MAX_PRECHECKED_JOBS
    assert capsys.readouterr().err.strip() == (
        f"convlab: pre-checking the first {MAX_PRECHECKED_JOBS} of 600 jobs; the others are checked as they start"
    )
    assert len(job_overrides(big, multirun=True, limit=None)) == 600  # the Ctrl-C list of jobs not run: whole
    assert capsys.readouterr().err == ""


def test_the_keys_that_do_not_identify_a_job_are_one_list() -> None:
    """Hydra names a job's directory without them (exclude_keys), so a resumed sweep finds its jobs again."""
    hydra_defaults = OmegaConf.load(ROOT / "conf" / "hydra" / "default.yaml")
    assert list(hydra_defaults.job.config.override_dirname.exclude_keys) == list(NOT_IDENTITY_KEYS)


def test_a_replaced_model_names_the_run_directory_by_its_target_not_the_option_it_replaced():
    from convlab.config.resolvers import group_name

    overrides = ["model._target_=torchvision.models.resnet18", "optim=sgd"]
    assert group_name("model", "lenet", "torchvision.models.resnet18", overrides) == "resnet18"
    assert group_name("model", "lenet", "convlab.models.LeNet", ["model.hidden=64"]) == "lenet"
