"""Tasks: the LightningModules (the only place Lightning meets the plain models) and the losses they train with."""

from convlab.tasks.base import Task
from convlab.tasks.classification import ClassificationTask
from convlab.tasks.filter_regression import FilterRegression
from convlab.tasks.losses import MSE, CrossEntropy

__all__ = ["MSE", "ClassificationTask", "CrossEntropy", "FilterRegression", "Task"]
