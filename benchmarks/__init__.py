"""The benchmark engine behind scripts/bench.py: measures convlab, is not part of the installed package."""
