"""The on-disk cache of a decoded image folder, under ``paths.data_dir`` (never inside the folder, which may be
read-only): one file per (files, image_size, channels), so a second run loads a tensor instead of decoding.

The key hashes every file's relative name, size and mtime with the decode settings: an added, removed, replaced
or touched image makes a new key (and a fresh decode); the old entry is simply not read again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch

from convlab.data.image_files import FolderScan
from convlab.errors import ConfigError
from convlab.fileio import atomic_write

log = logging.getLogger(__name__)
CACHE_FOLDER = "image_folder_cache"
FORMAT = 1  # bump when the decode changes what a cached tensor holds


def folder_key(scan: FolderScan, **settings: Any) -> str:
    """A hash of every file's (relative name, size, mtime) in scan order, and of the decode ``settings``."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, **settings}, sort_keys=True).encode())
    for split, files in scan.splits.items():
        digest.update(f"\n[{split}]".encode())
        for f in files:
            digest.update(f"\n{f.relative}\0{f.size}\0{f.mtime_ns}\0{f.label}".encode())
    return digest.hexdigest()[:32]


def cache_dir(data_dir: str | Path, root: Path) -> Path:
    """``<data_dir>/image_folder_cache``; a ConfigError if that is inside the image folder itself."""
    folder = (Path(data_dir).expanduser() / CACHE_FOLDER).resolve()
    if folder.is_relative_to(root.resolve()):
        raise ConfigError(
            f"paths.data_dir={data_dir}: the image cache would be written inside dataset.root={root}; "
            "set paths.data_dir (or CONVLAB_DATA_DIR) to a folder outside it"
        )
    return folder


def load_tensors(path: Path) -> dict[str, Any] | None:
    """A cached decode (images, labels, meta), or None if absent or unreadable (then it is decoded again)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        log.warning("image cache %s unreadable (%s): decoding the folder again", path, e)
        return None


def save_tensors(path: Path, entry: dict[str, Any]) -> None:
    """Write a decode atomically (a crash never leaves half a cache file); a read-only data_dir only logs."""
    try:
        atomic_write(path, lambda tmp: torch.save(entry, tmp))
    except OSError as e:
        log.warning("could not write the image cache %s (%s): the next run decodes again", path, e)


def load_meta(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save_meta(path: Path, meta: dict[str, Any]) -> None:
    try:
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(meta), encoding="utf-8"))
    except OSError as e:
        log.warning("could not write %s (%s)", path, e)
