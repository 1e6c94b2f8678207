"""``python train.py --help`` and ``python eval.py --help``: convlab's own words, and every example command they
show passes the pre-check. The answers to a mistyped command line: "did you mean", refused + keys, --options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from helpers import QUICK, ROOT, run_cli_batch
from omegaconf import OmegaConf

from convlab.cli.eval import check_eval
from convlab.cli.precheck import precheck
from convlab.cli.train import check_train_job
from convlab.errors import ConvlabError


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``python train.py --help`` and ``python eval.py --help``, both in one process (helpers.run_cli_batch)."""
    tmp = tmp_path_factory.mktemp("help")
    procs = run_cli_batch({script: (script, ["--help"], tmp) for script in ("train.py", "eval.py")}, tmp)
    assert all(p.returncode == 0 and p.stderr == "" for p in procs.values()), procs
    return {script: p.stdout for script, p in procs.items()}


@pytest.fixture(scope="module")
def train_help(helps: dict[str, str]) -> str:
    return helps["train.py"]


@pytest.fixture(scope="module")
def eval_help(helps: dict[str, str]) -> str:
    return helps["eval.py"]


def examples(help_text: str, script: str, run_dir: str = "<run dir>") -> list[list[str]]:
    """The argument lists of the commands under "Examples" (a command ends where two spaces start its comment),
    with ``run_dir`` for the placeholder <run dir>."""
    block = help_text.split("\nExamples\n", 1)[1].split("\n\n", 1)[0]
    commands = [re.split(r"\s{2,}", line.strip())[0] for line in block.splitlines()]
    assert all(c.startswith(f"python {script}") for c in commands), commands
    return [shlex.split(c.replace("<run dir>", shlex.quote(run_dir)))[2:] for c in commands]


def test_train_help_is_convlabs_own(train_help: str) -> None:
    for words in (
        "python train.py -m",  # sweeps
        "Examples",
        "Config groups",
        "model: cnn8, lenet, mlp, sobel",  # $APP_CONFIG_GROUPS: every group with its options
        "optim: adam, rmsprop, sgd, sgd_full_batch",
        "experiment: cnn8_article, lenet_tutorial, mlp_keras, sobel",
        "Top-level keys",
        "seed=0",
        "outputs/runs/<date>_<time>_<model>-<optim>-<loss>/",
        "results.json",
        "confusion_matrix.png",
        "checkpoints/",
        "csv/",
        "train.log",
        "outputs/sweeps/",
        "README.md",
        "not --model mlp",
    ):
        assert words in train_help, words
    assert "Powered by Hydra" not in train_help and "_target_" not in train_help  # no generic page, no config dump
    assert len(train_help.splitlines()) < 60


def test_train_help_names_the_real_defaults(train_help: str) -> None:
    (said,) = re.findall(r"Defaults:(.*?);", train_help, flags=re.DOTALL)  # it wraps onto a second line
    named = dict(pair.split("=") for pair in said.split())
    defaults = {}
    for entry in OmegaConf.load(ROOT / "conf" / "config.yaml").defaults:
        if not isinstance(entry, str):  # "_self_"
            ((group, option),) = dict(entry).items()
            if option is not None and not str(group).startswith(("override", "hydra", "paths")):
                defaults[str(group)] = str(option)
    assert named == defaults


def test_every_train_example_passes_the_precheck(train_help: str) -> None:
    commands = examples(train_help, "train.py")
    assert 5 <= len(commands) <= 7 and any("-m" in c for c in commands)
    for args in commands:
        precheck(args, "config", check_train_job)


def test_eval_help_is_convlabs_own(eval_help: str) -> None:
    for words in (
        "ckpt_path=<run dir>/checkpoints/last.ckpt",
        "Examples",
        "outputs/evals/",
        "results.json",
        "README.md",
    ):
        assert words in eval_help, words
    assert "Powered by Hydra" not in eval_help and len(eval_help.splitlines()) < 40


def test_every_eval_example_passes_the_precheck(eval_help: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "outputs" / "runs" / "a-run"
    (run_dir / "checkpoints").mkdir(parents=True)
    for name in ("last.ckpt", "best.ckpt"):
        (run_dir / "checkpoints" / name).write_bytes(b"weights")
    commands = examples(eval_help, "eval.py", str(run_dir))
    assert len(commands) >= 2
    for args in commands:
        precheck(args, "eval", check_eval)


@pytest.mark.parametrize(
    "args",
    [
        QUICK,
        ["++trainer.limit_train_batches=2", "++trainer.limit_test_batches=0.5", "++trainer.max_steps=-1"],
        [
            "+callbacks.first_step._target_=convlab.run.first_step_probe.FirstStepProbe",
            "+callbacks.first_step.path=probe.json",
        ],
        ["++seed=3", "++dataset.batch_size=32"],  # ++ on a key the config has
        ["+hydra.job.env_set.OMP_PROC_BIND=false"],  # the allow-list: Hydra's own settings
        ["-m", "model=mlp,lenet", "++trainer.limit_train_batches=0.5"],
    ],
)
def test_keys_something_reads_are_accepted(args: list[str]) -> None:
    precheck(args, "config", check_train_job)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["experiment=lenet_tutorail"], "did you mean experiment=lenet_tutorial?"),
        (["hydra/launcher=jobli"], "did you mean hydra/launcher=joblib?"),
        (["lr=0.1"], "did you mean optim.lr=0.1?"),
        (["batch_size=8"], "did you mean dataset.batch_size=8?"),
        (["+trainer.foo=1"], "trainer.foo is not an argument of pytorch_lightning.Trainer"),
        (
            ["+callbacks.x._target_=convlab.run.first_step_probe.FirstStepProbe", "+callbacks.x.pth=p"],
            "callbacks.x.pth is not an argument of convlab.run.first_step_probe.FirstStepProbe; "
            "did you mean ++callbacks.x.path=p?",
        ),
        (["optim=adam", "+optim.momentum=0.9"], "optim.momentum is not an argument of torch.optim.Adam; it takes lr,"),
        (["+model.hiden=64"], "did you mean model.hidden=64?"),
        (["--batch-size", "8"], "python train.py dataset.batch_size=8"),
        (["--optimizer=sgd"], "python train.py optim=sgd"),
        (["--model"], "python train.py model=<option>"),
    ],
)
def test_what_a_mistyped_command_line_probably_meant(args: list[str], says: str) -> None:
    with pytest.raises(ConvlabError) as info:
        precheck(args, "config", check_train_job)
    assert says in str(info.value)


# The README's and docs/'s commands pass the pre-check: tests/e2e/test_documented_commands.py.
