"""convlab: compare small vision models honestly with Hydra configs and Lightning runs.

Packages, in the order a run meets them: cli (command-line front door), config (checks, overrides,
resolvers), run (one run: build, fit, test, record results.json), data, models, tasks, checkpoints,
sweeps, trackers (W&B, TensorBoard), report (tables, plots, html), viz (what a network sees).
"""

__version__ = "0.1.0"
