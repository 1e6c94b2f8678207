"""What a model does to one input: every layer's output, the first layer's filters, an MLP's first weights.

Each picture is a torchvision ``make_grid`` of channels (each channel min-max scaled on its own), kept as
an H x W x 3 uint8 array so the same pixels go to PNG files, TensorBoard and W&B.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from convlab.fileio import atomic_savefig, atomic_write

# Small maps (a 5x5 pooled map) are enlarged by repeating pixels until about this many pixels across.
MIN_CELL_PIXELS = 56
OVERVIEW_PIXELS = 600


@dataclass
class Picture:
    """One image to save and log: ``tag`` names it in TensorBoard/W&B, ``name`` is its file stem."""

    tag: str
    name: str
    title: str
    pixels: np.ndarray  # H x W x 3 uint8


def channel_grid(maps: torch.Tensor, columns: int | None = None) -> np.ndarray:
    """C x H x W maps as one grid image (uint8 H x W x 3), every channel min-max scaled on its own."""
    maps = maps.detach().float().cpu()
    if maps.dim() == 2:
        maps = maps.unsqueeze(0)
    return _tile_grid(maps.unsqueeze(1), columns)


def colour_grid(images: torch.Tensor, columns: int | None = None) -> np.ndarray:
    """N x 3 x H x W as one grid of colour tiles (uint8 H x W x 3), each tile min-max scaled over its three
    channels together so its colours keep their balance."""
    return _tile_grid(images.detach().float().cpu(), columns)


def _tile_grid(tiles: torch.Tensor, columns: int | None) -> np.ndarray:
    from torchvision.utils import make_grid

    scale = max(1, math.ceil(MIN_CELL_PIXELS / max(tiles.shape[-2:])))
    if scale > 1:  # nearest neighbour: a pixel stays a visible square rather than a blur
        tiles = tiles.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    columns = columns or math.ceil(math.sqrt(tiles.shape[0]))
    grid = make_grid(tiles, nrow=columns, padding=2, normalize=True, scale_each=True, pad_value=1.0)
    return (grid.permute(1, 2, 0).clamp(0, 1).mul(255).round().to(torch.uint8)).numpy()


def input_picture(x: torch.Tensor) -> np.ndarray:
    """One input (C x H x W): a colour image for three channels, else a grid of its channels."""
    return colour_grid(x.unsqueeze(0), columns=1) if x.dim() == 3 and x.shape[0] == 3 else channel_grid(x)


def layer_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """(name, module, output) for every leaf module, in the order the forward pass runs them."""
    records: list[tuple[str, nn.Module, torch.Tensor]] = []
    hooks = [
        module.register_forward_hook(lambda m, _inp, out, name=name: records.append((name, m, out.detach())))
        for name, module in model.named_modules()
        if name and not list(module.children())
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return records


def first_conv(model: nn.Module) -> nn.Conv2d | None:
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


def first_linear_on_images(model: nn.Module) -> nn.Linear | None:
    """An MLP's first layer: a Linear reading a flattened square image (and no conv before it)."""
    if first_conv(model) is not None:
        return None
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
    return first if first is not None and math.isqrt(first.in_features) ** 2 == first.in_features else None


def model_pictures(model: nn.Module, x: torch.Tensor, input_label: str = "input") -> list[Picture]:
    """The input, then each conv/activation/pool output (N x C x H x W) for ``x`` (one image), then weights."""
    model = model.eval()
    pictures = [Picture("input", "00_input", input_label, input_picture(x[0]))]
    for i, (name, module, out) in enumerate(layer_outputs(model, x), start=1):
        if out.dim() != 4:  # dense layers: vectors, not maps
            continue
        kind = type(module).__name__
        title = f"{name} {kind}: {out.shape[1]} x {out.shape[2]}x{out.shape[3]}"
        stem = f"{i:02d}_{_safe(name)}_{kind}"
        pictures.append(Picture(f"layers/{stem}", stem, title, channel_grid(out[0])))
    conv = first_conv(model)
    if conv is not None:
        weights = conv.weight.detach()
        size = "x".join(map(str, weights.shape[-2:]))
        title = f"first-layer filters: {weights.shape[0]} of {weights.shape[1]} x {size}"
        # On a colour input, one colour tile per filter; else one tile per (output, input) channel pair (a
        # 1-channel input gives one tile per filter).
        colour = weights.shape[1] == 3
        grid = colour_grid(weights) if colour else channel_grid(weights.reshape(-1, *weights.shape[-2:]))
        pictures.append(Picture("weights/first_conv_filters", "first_conv_filters", title, grid))
    linear = first_linear_on_images(model)
    if linear is not None:
        side = math.isqrt(linear.in_features)
        title = f"first-layer weights: {linear.out_features} units, each as a {side}x{side} image"
        tiles = linear.weight.detach().reshape(-1, side, side)
        pictures.append(Picture("weights/mlp_first_layer", "mlp_first_layer", title, channel_grid(tiles)))
    return pictures


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def save_pictures(pictures: Sequence[Picture], folder: str | Path, overview_title: str = "") -> list[Path]:
    """One PNG per picture, and ``overview.png`` with all of them labelled; each written atomically."""
    from PIL import Image

    folder = Path(folder)
    paths = []
    for picture in pictures:
        paths.append(_write_png(Image.fromarray(picture.pixels), folder / f"{picture.name}.png"))
    paths.append(overview_png(pictures, folder / "overview.png", overview_title))
    return paths


def _write_png(image: Any, path: Path) -> Path:
    # zlib level 1: several times faster than the default on these large grids, files a little larger
    return atomic_write(path, lambda tmp: image.save(tmp, format="PNG", compress_level=1))


def overview_png(pictures: Sequence[Picture], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(pictures))
    rows = math.ceil(len(pictures) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 5 * rows), layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, picture in zip(axes.flat, pictures, strict=False):
        ax.imshow(_thumbnail(picture.pixels), interpolation="nearest")
        ax.set_title(picture.title, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=12)
    return atomic_savefig(fig, path, dpi=80)


def _thumbnail(pixels: np.ndarray, longest: int = OVERVIEW_PIXELS) -> np.ndarray:
    """Shrunk for the overview only (each panel is ~400 pixels there): drawing full-size grids is slow."""
    from PIL import Image

    image = Image.fromarray(pixels)
    if max(image.size) > longest:
        image.thumbnail((longest, longest), Image.Resampling.BOX)
    return np.asarray(image)


def log_pictures(loggers: Iterable[Any], pictures: Sequence[Picture], step: int = 0, prefix: str = "") -> list[str]:
    """Log to every TensorBoard (add_image) and W&B (wandb.Image of the uint8 pixels) logger; returns their names."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    used = []
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            writer = logger.experiment
            for picture in pictures:
                writer.add_image(f"{prefix}{picture.tag}", picture.pixels, global_step=step, dataformats="HWC")
            writer.flush()
            used.append("tensorboard")
        elif isinstance(logger, WandbLogger):
            import wandb

            images = {f"{prefix}{p.tag}": wandb.Image(p.pixels, caption=p.title) for p in pictures}
            logger.log_metrics(images, step=step)  # one W&B history row holding every picture
            used.append("wandb")
    return used
