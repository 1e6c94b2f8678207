"""The published architectures: exact parameter counts, output shapes, configurable pieces."""

import pytest
import torch
from torch import nn

from convlab.errors import ConfigError
from convlab.models import CNN8, MLP, LeNet, SobelNet, count_parameters


@pytest.mark.parametrize(
    ("model", "params"),
    [(MLP(), 669_706), (LeNet(), 102_130), (CNN8(), 7_293_578), (SobelNet(), 9)],
    ids=["mlp", "lenet", "cnn8", "sobel"],
)
def test_parameter_counts_match_the_published_models(model: nn.Module, params: int) -> None:
    assert count_parameters(model) == params


@pytest.mark.parametrize("cls", [MLP, LeNet, CNN8])
@pytest.mark.parametrize("batch", [1, 64])
def test_classifiers_map_images_to_ten_logits(cls: type, batch: int) -> None:
    out = cls()(torch.randn(batch, 1, 28, 28))
    assert out.shape == (batch, 10)
    assert out.dtype == torch.float32


def test_cnn8_reshapes_flat_784_vectors_like_the_article() -> None:
    model = CNN8().eval()
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(model(x), model(x.reshape(3, 784)))


def test_cnn8_layers_are_conv_conv_pool_then_sigmoid_dense() -> None:
    model = CNN8()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.padding) for c in convs] == [(1, 32, "same"), (32, 32, "same")]
    assert isinstance(model.features[-1], nn.AvgPool2d)
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [
        (6272, 1000),
        (1000, 1000),
        (1000, 10),
    ]
    assert sum(isinstance(m, nn.Sigmoid) for m in model.classifier) == 2


def test_lenet_flattens_800_features() -> None:
    model = LeNet()
    assert model.features(torch.zeros(1, 1, 28, 28)).shape == (1, 32, 5, 5)
    assert model.classifier[1].in_features == 800


def test_mlp_has_dropout_02_after_each_hidden_layer() -> None:
    drops = [m.p for m in MLP().layers if isinstance(m, nn.Dropout)]
    assert drops == [0.2, 0.2]


def test_sizes_and_activations_are_configurable() -> None:
    mlp = MLP(hidden=[64], dropout=0.5, activation="tanh")
    assert count_parameters(mlp) == 784 * 64 + 64 + 64 * 10 + 10
    assert any(isinstance(m, nn.Tanh) for m in mlp.layers)
    cnn = CNN8(channels=[8, 8], hidden=[32], conv_activation="sigmoid")
    assert cnn(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert isinstance(cnn.features[1], nn.Sigmoid)


def test_unknown_activation_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"model.activation='swish'.*relu"):
        MLP(activation="swish")


def test_sobel_net_is_one_bias_free_3x3_kernel_with_valid_output() -> None:
    net = SobelNet()
    assert net.conv.bias is None
    assert net.kernel.shape == (3, 3)
    assert net(torch.zeros(1, 1, 10, 12)).shape == (1, 1, 8, 10)
