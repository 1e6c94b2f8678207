"""convlab: compare small vision models honestly with Hydra configs and Lightning runs.

Packages, top to bottom; each imports only its own layer and the ones below (tests/unit/test_layout.py):
cli (command-line front door, terminal summary); run (one run: check, build, fit, test, record); tasks,
trackers (W&B, TensorBoard), report (tables, plots, html), viz (what a network sees), sweeps, checkpoints;
data, models; config (checks, overrides, resolvers, runtime), errors, fileio, runfiles (results.json,
history.csv, predictions.npz: formats, readers, writers).
"""

__version__ = "0.1.0"
