"""The model's node as built (convlab.config.model_node), the shape pre-check (convlab.config.shapes), and the
small items of issue 27: label_smoothing, "..." kept in error lines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from user_models import MYMODELS

from convlab.cli.exit import one_line
from convlab.cli.precheck import precheck
from convlab.config.checks import check_config
from convlab.config.model_node import model_node
from convlab.config.overrides import group_choices
from convlab.config.shapes import check_shapes
from convlab.config.suggest import target_arguments
from convlab.data import DigitsDataModule
from convlab.errors import ConfigError
from convlab.tasks.losses import CrossEntropy

DIGITS = DigitsDataModule().shape()  # 1 x 28 x 28, 10 classes


@pytest.fixture
def mymodels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "mymodels.py").write_text(MYMODELS)
    monkeypatch.syspath_prepend(str(folder))
    yield
    sys.modules.pop("mymodels", None)


@pytest.mark.parametrize("model", ["lenet", "mlp", "cnn8"])
def test_built_in_models_take_the_published_shape_from_mnist_like_data(compose_cfg, model: str) -> None:
    node = model_node(compose_cfg([f"model={model}"]), DIGITS)
    assert (node.in_channels, node.image_size, node.num_classes) == (1, 28, 10)


def test_a_value_the_config_sets_is_not_replaced_by_the_data(compose_cfg) -> None:
    node = model_node(compose_cfg(["model.num_classes=7", "model.image_size=32"]), DIGITS)
    assert (node.in_channels, node.image_size, node.num_classes) == (1, 32, 7)


def test_model_target_on_the_command_line_replaces_the_node(compose_cfg, mymodels: None) -> None:
    cfg = compose_cfg(["model._target_=mymodels.Tiny", "model.hidden=4"])
    node = model_node(cfg, DIGITS)
    # LeNet's channels, kernel_size, activation ... are gone; what the command line set is kept
    assert dict(node) == {"_target_": "mymodels.Tiny", "hidden": 4, "in_channels": 1, "num_classes": 10}
    assert group_choices(cfg)["model"] == "mymodels.Tiny"


def test_a_factorys_kwargs_reach_the_class_it_returns(compose_cfg, mymodels: None) -> None:
    assert target_arguments("mymodels.make_tiny") == ["width", "in_channels", "num_classes", "hidden"]
    node = model_node(compose_cfg(["model._target_=mymodels.make_tiny", "+model.width=2"]), DIGITS)
    assert dict(node) == {"_target_": "mymodels.make_tiny", "width": 2, "in_channels": 1, "num_classes": 10}
    check_config(compose_cfg(["model._target_=mymodels.make_tiny", "+model.width=2"], name="checked"))


def test_torchvision_resnet18_gets_num_classes_through_its_return_annotation(compose_cfg) -> None:
    assert "num_classes" in target_arguments("torchvision.models.resnet18")
    node = model_node(compose_cfg(["model._target_=torchvision.models.resnet18"]), DIGITS)
    assert dict(node) == {"_target_": "torchvision.models.resnet18", "num_classes": 10}  # ResNet takes no in_channels


def test_the_shape_check_leaves_the_random_state_alone(compose_cfg) -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check_shapes(compose_cfg(["model=mlp", "model.dropout=0.5"]))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_model_too_big_for_the_image_names_both_shapes(compose_cfg) -> None:
    with pytest.raises(ConfigError) as e:
        check_shapes(compose_cfg(["model=lenet", "model.image_size=64"]))
    assert str(e.value).startswith("model=lenet expects inputs of another size")
    assert "but dataset=digits gives 1 x 28 x 28, 10 classes" in str(e.value)


def test_label_smoothing_is_torchs(compose_cfg) -> None:
    logits, target = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    smooth = torch.tensor([[0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3]])
    expected = -(smooth * torch.log_softmax(logits, dim=1)).sum()
    assert CrossEntropy(label_smoothing=0.1)(logits, target).item() == pytest.approx(expected.item())
    assert compose_cfg([]).loss.label_smoothing == 0.0
    with pytest.raises(ConfigError, match=r"loss.label_smoothing=1.5 is out of range"):
        check_config(compose_cfg(["loss.label_smoothing=1.5"]))


@pytest.mark.parametrize("written", ["loss.label_smoothing=0.1", "+loss.label_smoothing=0.1"])
def test_label_smoothing_is_set_with_or_without_plus(written: str) -> None:
    seen = []
    argv = precheck([written, "trainer.max_epochs=1"], "config", seen.append)
    assert argv == ["loss.label_smoothing=0.1", "trainer.max_epochs=1"]  # as Hydra is to read it
    assert seen[0].loss.label_smoothing == 0.1


def test_one_line_keeps_an_ellipsis() -> None:
    assert one_line("model expects 3 channels ... dataset gives 1 x 28 x 28") == (
        "model expects 3 channels ... dataset gives 1 x 28 x 28"
    )
    assert one_line("first.\nsecond...\nthird\n\nfourth") == "first; second...; third. fourth"
