"""Checkpoints: loaded safely (load), written atomically (save), found and checked for a resume (resume)."""
