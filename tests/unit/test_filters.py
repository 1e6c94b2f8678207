"""Kernels, cross-correlation vs convolution, min-max display, and the worked examples in docs/ (what the net sees)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy.signal import convolve2d, correlate2d
from torch import nn

from convlab.data.kernels import (
    NAMED_KERNELS,
    convolve,
    cross_correlate,
    flip_kernel,
    kernel_from_spec,
    mean_blur,
    minmax_uint8,
    random_kernel,
)
from convlab.errors import ConfigError
from convlab.models import SobelNet

# The worked example shown in docs/what-the-network-sees.md.
EXAMPLE_INPUT = [[1, 2, 1, 0], [2, 0, 1, 3], [0, 5, 4, 2], [4, 1, 2, 5]]
EXAMPLE_KERNEL = [[0, 1, 0], [2, 1, 1], [1, 0, 1]]


def test_worked_example_conv2d_stride_1_no_padding() -> None:
    x = torch.tensor(EXAMPLE_INPUT, dtype=torch.float32)
    k = torch.tensor(EXAMPLE_KERNEL, dtype=torch.float32)
    assert cross_correlate(x, k).tolist() == [[11, 12], [15, 23]]
    conv = nn.Conv2d(1, 1, 3, stride=1, padding=0, bias=False)
    with torch.no_grad():
        conv.weight.copy_(k.reshape(1, 1, 3, 3))
    assert conv(x.reshape(1, 1, 4, 4)).reshape(2, 2).tolist() == [[11, 12], [15, 23]]
    # By hand, the top-left output: 1*0 + 2*1 + 1*0 + 2*2 + 0*1 + 1*1 + 0*1 + 5*0 + 4*1 = 11
    top_left = np.array(EXAMPLE_INPUT)[:3, :3]
    assert (top_left * np.array(EXAMPLE_KERNEL)).sum() == 11


@pytest.mark.parametrize(("ceil_mode", "expected"), [(True, [[5, 3], [4, 5]]), (False, [[5]])])
def test_worked_example_max_pool_3x3(ceil_mode: bool, expected: list[list[int]]) -> None:
    x = torch.tensor(EXAMPLE_INPUT, dtype=torch.float32).reshape(1, 1, 4, 4)
    pooled = nn.MaxPool2d(3, ceil_mode=ceil_mode)(x)
    assert pooled.reshape(pooled.shape[-2:]).tolist() == expected


def test_cross_correlation_is_what_the_sobel_net_computes() -> None:
    image = torch.rand(40, 50, generator=torch.Generator().manual_seed(1))
    net = SobelNet()
    for name in NAMED_KERNELS:
        kernel = kernel_from_spec(name)
        with torch.no_grad():
            net.conv.weight.copy_(kernel.reshape(1, 1, 3, 3))
        assert torch.equal(net(image.reshape(1, 1, 40, 50))[0, 0], cross_correlate(image, kernel))
    assert cross_correlate(image, kernel).shape == (38, 48)  # 'valid': no padding


def test_convolution_flips_the_kernel_and_matches_scipy() -> None:
    image = np.random.default_rng(0).random((20, 30))
    kernel = kernel_from_spec("sobel_x")
    x = torch.from_numpy(image)
    np.testing.assert_allclose(convolve(x, kernel).numpy(), convolve2d(image, kernel.double(), mode="valid"))
    np.testing.assert_allclose(cross_correlate(x, kernel).numpy(), correlate2d(image, kernel.double(), mode="valid"))
    assert torch.equal(flip_kernel(kernel), -kernel)  # sobel_x flipped both ways is its negative
    assert torch.allclose(convolve(x, kernel), -cross_correlate(x, kernel))


def test_named_and_listed_kernels() -> None:
    assert kernel_from_spec("sobel_y").tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert kernel_from_spec("laplacian").sum() == 0
    assert kernel_from_spec("blur3").sum().item() == pytest.approx(1.0)
    listed = OmegaConf.create({"k": [[0, 1, 0], [1, -4, 1], [0, 1, 0.5]]}).k  # as Hydra passes it
    assert kernel_from_spec(listed).tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0.5]]
    assert kernel_from_spec([[1] * 5] * 5, size=5).shape == (5, 5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sobel_z", "dataset.kernel='sobel_z' is not a known kernel; choose one of sobel_x, sobel_y, laplacian, blur3"),
        ([[1, 2], [3, 4]], "dataset.kernel=[[1,2],[3,4]] is not a 3x3 list of numbers"),
        ([[1, 2, 3], [4, 5, 6]], "is not a 3x3 list of numbers"),
        ([[1, 2, 3], [4, "x", 6], [7, 8, 9]], "is not a 3x3 list of numbers"),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], "is not a 3x3 list of numbers"),
        (3, "dataset.kernel=3 is not a 3x3 list"),
        ([[1, 2, 3], [4, float("nan"), 6], [7, 8, 9]], "not finite"),
    ],
)
def test_bad_kernels_are_one_clear_error(spec: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        kernel_from_spec(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_classic_kernels() -> None:
    assert mean_blur(9).shape == (9, 9) and mean_blur(9).sum().item() == pytest.approx(1.0)
    assert torch.equal(random_kernel(9, seed=3), random_kernel(9, seed=3))
    assert not torch.equal(random_kernel(9, seed=3), random_kernel(9, seed=4))


def test_minmax_maps_the_range_to_0_255() -> None:
    out = minmax_uint8(torch.tensor([[-2.0, 0.0], [1.0, 6.0]]))
    assert out.dtype == np.uint8 and out.tolist() == [[0, 64], [96, 255]]
    assert minmax_uint8(np.full((3, 3), 7.0)).tolist() == [[0] * 3] * 3  # a flat image has no range


def test_classic_filter_images_are_min_max_scaled_filterings() -> None:
    from convlab.data.photos import load_grayscale
    from convlab.viz.classic_filters import filtered_images

    image = load_grayscale("coins")
    panels = dict(filtered_images(image, seed=0))
    assert list(panels) == [
        "original",
        "mean blur 3x3 (all 1/9)",
        "mean blur 9x9 (all 1/81)",
        "Sobel x (vertical edges)",
        "Sobel y (horizontal edges)",
        "random 9x9 (normal, seed 0)",
    ]
    blur9 = correlate2d(image.double().numpy(), np.full((9, 9), 1 / 81), mode="valid")
    expected = np.round((blur9 - blur9.min()) / (blur9.max() - blur9.min()) * 255)
    assert np.abs(panels["mean blur 9x9 (all 1/81)"].astype(int) - expected).max() <= 1
    for pixels in panels.values():
        assert pixels.dtype == np.uint8 and pixels.min() == 0 and pixels.max() == 255


def run_script(path: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a script in this process, as ``python <path> args`` would (no interpreter start-up to pay)."""
    import runpy
    import sys

    from helpers import ROOT

    monkeypatch.setattr(sys, "argv", [path, *args])
    runpy.run_path(str(ROOT / path), run_name="__main__")


def test_filters_script_writes_its_panel_and_refuses_a_missing_image(tmp_path, monkeypatch, capsys) -> None:
    from PIL import Image

    out = tmp_path / "panel.png"
    run_script("scripts/filters.py", "coins", "--out", str(out), monkeypatch=monkeypatch)
    assert capsys.readouterr().out.strip() == str(out)
    with Image.open(out) as png:
        assert png.format == "PNG" and png.width > 800 and png.height > 600
    with pytest.raises(SystemExit) as info:
        run_script("scripts/filters.py", "missing.png", "--out", str(tmp_path / "x.png"), monkeypatch=monkeypatch)
    assert info.value.code == 2 and not (tmp_path / "x.png").exists()
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("convlab: error: image=missing.png: no such file")
