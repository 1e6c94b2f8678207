"""The classic "what does a CNN do to a cat" walk-through, with untrained (random) layers.

Even random filters pick out edges and blobs; ReLU keeps the positive responses; max-pooling shrinks the
map while keeping its strongest responses. Then an untrained LeNet's feature layers on the same photo.
"""

from __future__ import annotations

import torch
from torch import nn

from convlab.viz.feature_maps import Picture, channel_grid, input_picture, model_pictures

POOL = 5  # a large pool, so its effect is visible on a 300x451 photo


def random_conv_stages(x: torch.Tensor, seed: int = 0) -> list[Picture]:
    """A conv of 3 random 3x3 filters and one of 3 random 10x10 filters, each alone, + ReLU, + max-pool.

    ``x`` is the photo in [0, 1]; the layers see it centred, (x - 0.5) / 0.5, as the LeNet tutorial feeds its
    images: on an all-positive input a random filter's response is mostly of one sign, and ReLU blanks it.
    """
    torch.manual_seed(seed)
    pictures = [Picture("walkthrough/00_input", "00_input", f"input {x.shape[-2]}x{x.shape[-1]}", input_picture(x[0]))]
    centred = (x - 0.5) / 0.5
    for i, size in enumerate((3, 10)):
        conv = nn.Conv2d(x.shape[1], 3, size)  # a colour image: each filter reads all three channels
        with torch.no_grad():
            out = conv(centred)
        relu = torch.relu(out)
        what = f"3 random {size}x{size} filters"
        stages = [
            ("", f"conv: {what}", out),
            ("_relu", f"{what} + ReLU", relu),
            ("_relu_pool", f"{what} + ReLU + max-pool {POOL}x{POOL}", nn.MaxPool2d(POOL)(relu)),
        ]
        for j, (suffix, title, maps) in enumerate(stages):
            name = f"{3 * i + j + 1:02d}_conv{size}x{size}{suffix}"
            title = f"{title}: 3 x {maps.shape[-2]}x{maps.shape[-1]}"
            pictures.append(Picture(f"walkthrough/{name}", name, title, channel_grid(maps[0], columns=3)))
    return pictures


def untrained_lenet_pictures(x: torch.Tensor, seed: int = 0) -> list[Picture]:
    """An untrained LeNet's feature layers (conv, ReLU, pool, twice) on the full-size photo, and its filters."""
    from convlab.models import LeNet

    torch.manual_seed(seed)
    # the conv part works at any image size; the dense part needs 28x28
    features = LeNet(in_channels=x.shape[1]).features
    pictures = model_pictures(features, (x - 0.5) / 0.5, "input, normalised (x - 0.5) / 0.5")[1:]
    return [
        Picture(f"untrained_lenet/{p.tag}", f"lenet_{p.name}", f"untrained LeNet {p.title}", p.pixels) for p in pictures
    ]


def walkthrough_pictures(x: torch.Tensor, seed: int = 0) -> list[Picture]:
    return random_conv_stages(x, seed) + untrained_lenet_pictures(x, seed)
