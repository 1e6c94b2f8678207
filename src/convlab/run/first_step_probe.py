"""A callback for scripts/bench.py's start-up figure: when did the first optimizer step end?"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl


class FirstStepProbe(pl.Callback):
    """Writes the wall-clock time at the end of the first optimizer step to ``path``, with the garbage collector's
    state then (on, and how many start-up objects it no longer walks: see convlab.run.collector).

    The start-up benchmark adds it to a run with ``+callbacks.first_step.path=probe.json``
    ``+callbacks.first_step._target_=convlab.run.first_step_probe.FirstStepProbe``.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == 1 and not self.path.exists():
            state = {"unix_time": time.time(), "gc_enabled": gc.isenabled(), "gc_frozen_objects": gc.get_freeze_count()}
            self.path.write_text(json.dumps(state))
