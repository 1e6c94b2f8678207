"""``python -m convlab train|eval|compare|reproduce|visualize [arguments]`` (convlab.cli.commands)."""

from convlab.cli.commands import main

if __name__ == "__main__":
    main()
