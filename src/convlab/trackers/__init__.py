"""Experiment trackers beyond the CSV log: Weights & Biases and TensorBoard, and what each gets from results.json."""
