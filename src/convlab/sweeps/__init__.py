"""Multirun sweeps: threads per parallel job, resuming a sweep (skip_done), the end-of-sweep comparison report,
the Optuna sweeper, convlab's submitit launchers and what a sweep records for a job that died."""
