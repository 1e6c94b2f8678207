"""convlab: compare small vision models honestly with Hydra configs and Lightning runs."""

__version__ = "0.1.0"
