"""``python scripts/visualize.py <run dir or checkpoint> [--index N | --image PATH]``: look inside a model.

For one input, every layer's output (each conv, activation and pool), the first-layer filters and, for an
MLP, the first-layer weights as 28x28 images: PNGs in ``<run dir>/feature_maps/<input>/`` and, when the run
logged to TensorBoard or W&B, the same images there. ``--untrained --image cat`` is the classic walk-through
with random layers and needs no run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from convlab.cli.exit import fail
from convlab.config.runtime import invocation, remember_invocation
from convlab.errors import ConfigError, ConvlabError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=invocation("visualize"),
        description="Every layer's output, first-layer filters and MLP weights, as images.",
    )
    parser.add_argument("run", nargs="?", help="a run directory (uses checkpoints/last.ckpt) or a .ckpt file")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--index", type=int, default=None, help="which test image (default 0)")
    source.add_argument("--image", default=None, help="an image file or bundled photo name (cat, camera, ...)")
    parser.add_argument(
        "--untrained",
        action="store_true",
        help="random layers on --image (default cat), no run; with a run and --index, on that test image",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random layers (--untrained)")
    parser.add_argument("--out", default=None, help="output folder (default <run dir>/feature_maps/<input>)")
    args = parser.parse_args(argv)
    if args.untrained and args.index is not None and not args.run:
        parser.error("--untrained --index N needs a run directory (its test image N)")
    if not args.untrained and not args.run:
        parser.error("give a run directory or checkpoint, or --untrained")
    return args


def visualize_run(run: str, index: int | None, image: str | None, out: str | None) -> tuple[list[Path], list[str]]:
    """Pictures of a trained run's model for one input; returns (files written, loggers used)."""
    from convlab.run.build import build_loggers
    from convlab.viz.feature_maps import log_pictures, model_pictures, save_pictures
    from convlab.viz.trained_run import (
        build_data,
        input_channels,
        input_from_data,
        input_from_photo,
        load_trained_run,
        model_input_size,
    )

    trained = load_trained_run(run)
    datamodule = build_data(trained.cfg)
    if image is not None:
        x, label = input_from_photo(image, datamodule, model_input_size(trained.cfg), input_channels(trained.model))
        folder = f"image_{Path(image).stem}"
    else:
        index = index or 0
        x, label = input_from_data(datamodule, index)
        # a filter run has no test split: its input is the training photo
        is_filter = getattr(datamodule, "task_kind", None) == "filter"
        folder = f"image_{Path(datamodule.image_spec).stem}" if is_filter else f"test_{index}"
    pictures = model_pictures(trained.model, x, label)
    out_dir = Path(out) if out else trained.run_dir / "feature_maps" / folder
    title = f"{trained.choices.get('model', '?')} on {trained.choices.get('dataset', '?')}: {label}"
    files = save_pictures(pictures, out_dir, title)
    loggers = build_loggers(trained.cfg)
    used = log_pictures(loggers, pictures, step=0, prefix=f"feature_maps/{folder}/")
    _close(loggers)
    return files, used


def visualize_untrained(
    image: str | None, seed: int, out: str | None, run: str | None = None, index: int | None = None
) -> list[Path]:
    """The walk-through on a photo, or (``run`` and ``index``) on test image ``index`` of that run's dataset."""
    from convlab.data.photos import load_grayscale
    from convlab.viz.feature_maps import save_pictures
    from convlab.viz.walkthrough import walkthrough_pictures

    if run is not None and index is not None:
        from convlab.viz.trained_run import build_data, load_trained_run

        trained = load_trained_run(run)
        datamodule = build_data(trained.cfg)
        datamodule.prepare_data()
        datamodule.setup("test")
        if not 0 <= index < len(datamodule.test):
            raise ConfigError(f"--index {index} is out of range: the test split has {len(datamodule.test)} images")
        x = datamodule.test.images[index : index + 1].float() / 255  # [0, 1], as photos are
        label = datamodule.class_names[int(datamodule.test.labels[index])]
        out_dir = Path(out) if out else trained.run_dir / "feature_maps" / f"untrained_test_{index}"
        title = f"untrained layers on test image {index} ({label})"
        return save_pictures(walkthrough_pictures(x, seed), out_dir, title)
    image = image or "cat"
    photo = load_grayscale(image, key="--image")
    pictures = walkthrough_pictures(photo.reshape(1, 1, *photo.shape), seed)
    out_dir = Path(out) if out else Path("outputs") / "feature_maps" / f"untrained_{Path(image).stem}"
    return save_pictures(pictures, out_dir, f"untrained layers on {image} (seed {seed})")


def _close(loggers: list[Any]) -> None:
    """Flush what was logged without Lightning's finalize, which would rewrite the run's hparams.yaml."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger) and logger._experiment is not None:
            logger.experiment.close()
        elif isinstance(logger, WandbLogger) and logger._experiment is not None:
            logger.experiment.finish()


def main(argv: list[str] | None = None) -> None:
    """``argv``: the arguments after the command (default: this process's)."""
    argv = sys.argv[1:] if argv is None else argv
    remember_invocation("visualize", argv)  # --help and errors name the command as the user typed it
    args = parse_args(argv)
    try:
        if args.untrained:
            files, used = visualize_untrained(args.image, args.seed, args.out, args.run, args.index), []
        else:
            files, used = visualize_run(args.run, args.index, args.image, args.out)
    except ConvlabError as e:
        fail(str(e))
    print(f"wrote {len(files)} images in {files[0].parent}")
    for path in files:
        print(f"  {path.name}")
    if used:
        print(f"logged to {', '.join(used)}")
