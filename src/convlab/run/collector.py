"""Python's cyclic garbage collector at start-up: paused while the libraries load, then their objects frozen.

Loading torch, Lightning, torchmetrics, torchvision and scipy makes ~750k Python objects. With the collector on,
its full collections walk all of them again and again while the heap grows (about 2 s of an 11 s start-up here), and
once a run trains, every full collection still walks them all (0.4 s a time, in the middle of an epoch). Those
objects live as long as the process, so ``gc.freeze()`` moves them where the collector never looks. The price: the
cyclic garbage the imports leave (~280k small objects, ~9 MB resident here) is never freed.
"""

from __future__ import annotations

import gc

_paused = False  # this module turned the collector off (and turns it back on)
_frozen = False  # once per process: a later freeze would keep an earlier run's garbage (its trainer, its model) forever


def pause() -> None:
    """The entry point, before the heavy imports: no cyclic collection until ``freeze_loaded``."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def freeze_loaded() -> None:
    """After the heavy imports, before a run builds anything: the objects made so far go into the collector's
    permanent generation (first call in a process only), and the collector runs again if ``pause`` stopped it."""
    global _paused, _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True
    if _paused:
        gc.enable()
        _paused = False
