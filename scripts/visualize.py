"""Look inside a model: python scripts/visualize.py <run dir or checkpoint> [--index N | --image PATH]

Every layer's output, the first-layer filters and an MLP's first weights as images, in <run dir>/feature_maps/;
`--untrained --image cat` is the classic walk-through with random layers. See convlab.cli.visualize.
"""

from convlab.cli.visualize import main

if __name__ == "__main__":
    main()
