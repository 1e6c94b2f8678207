"""Classic filters on a photo: python scripts/filters.py [image] [--out PNG] [--seed N]

Mean blur 3x3 and 9x9, Sobel x and y, and a random 9x9 filter, each min-max mapped to 0-255, in one
labelled panel. `image` is a file or one of scikit-image's bundled photos (default camera).
"""

from __future__ import annotations

import argparse

from convlab.cli.exit import fail
from convlab.errors import ConvlabError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default="camera", help="image file or bundled photo name (default camera)")
    parser.add_argument("--out", default=None, help="output PNG (default outputs/filters/<image>_filters.png)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random 9x9 filter")
    args = parser.parse_args()

    from pathlib import Path

    from convlab.viz.classic_filters import classic_filter_panel

    out = Path(args.out or f"outputs/filters/{Path(args.image).stem}_filters.png")
    try:
        path = classic_filter_panel(args.image, out, seed=args.seed)
    except ConvlabError as e:
        fail(str(e))
    print(path)


if __name__ == "__main__":
    main()
