"""LightningModules: the only place Lightning meets the plain models."""

from convlab.tasks.classification import ClassificationTask
from convlab.tasks.filter_regression import FilterRegression

__all__ = ["ClassificationTask", "FilterRegression"]
