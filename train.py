"""Train one experiment, or a sweep with -m. See README.md and `python train.py --help`."""

from convlab.cli.train import main

if __name__ == "__main__":
    main()
