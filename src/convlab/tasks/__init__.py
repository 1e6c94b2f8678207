"""LightningModules: the only place Lightning meets the plain models."""

from convlab.tasks.classification import ClassificationTask

__all__ = ["ClassificationTask"]
