"""The command-line front door: train and eval mains, the argv pre-check, the per-job wrapper, compare and visualize."""
