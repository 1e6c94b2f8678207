"""Multirun sweeps: threads per parallel job, resuming a sweep (skip_done), the end-of-sweep comparison report."""
