"""IDX ("SN3 Pascal Vincent") files, as MNIST and Fashion-MNIST ship them, plain or gzipped.

Files are read into memory (a .gz is decompressed there, never beside the archive: the folder may be
read-only or shared) and the header and length are checked before decoding, so that a corrupt file ends
in one clear DataError naming the file, not an AssertionError deep in a decoder.
"""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path

import torch

from convlab.errors import DataError

UBYTE = 0x08


def check_idx(path: str | Path, ndim: int) -> tuple[int, ...]:
    """Validate an uncompressed IDX file of unsigned bytes with ``ndim`` dimensions; return its shape."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4 + 4 * ndim)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    return _check_header(head, size, ndim, path)


def read_idx(path: str | Path, ndim: int) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (``.gz`` decompressed in memory) into a uint8 tensor, after checking it."""
    path = Path(path)
    data = read_bytes(path)
    shape = _check_header(data[: 4 + 4 * ndim], len(data), ndim, path)
    body = bytearray(data[4 + 4 * ndim :])  # writable: torch.frombuffer warns on read-only buffers
    return torch.frombuffer(body, dtype=torch.uint8).reshape(shape) if body else torch.zeros(shape, dtype=torch.uint8)


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes; a ``.gz`` file's decompressed bytes. Any problem is one DataError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from None


def gunzip(src: str | Path, dst: str | Path) -> Path:
    """Decompress ``src`` (.gz) to ``dst`` atomically, naming the file if the archive is corrupt."""
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.partial")
    try:
        with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, length=1 << 20)
        tmp.replace(dst)
    except (OSError, EOFError, zlib.error) as e:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{src}: not a valid gzip file ({e})") from None
    return dst


def _check_header(head: bytes, size: int, ndim: int, path: Path) -> tuple[int, ...]:
    """The shape in an IDX header of ``ndim`` unsigned-byte dimensions, checked against the file's ``size``."""
    if len(head) < 4:
        raise DataError(f"{path}: not an IDX file (only {size} bytes)")
    zero, dtype, dims = int.from_bytes(head[:2], "big"), head[2], head[3]
    expected_magic = f"0x{UBYTE << 8 | ndim:08x}"
    if zero != 0 or dtype != UBYTE or dims != ndim:
        raise DataError(
            f"{path}: wrong magic number 0x{int.from_bytes(head[:4], 'big'):08x} (expected {expected_magic}, "
            f"unsigned bytes in {ndim} dimension{'s' * (ndim > 1)})"
        )
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated header ({size} bytes)")
    shape = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = 4 + 4 * ndim + _prod(shape)
    if size != expected:
        raise DataError(
            f"{path}: wrong length: header says shape {list(shape)} = {expected} bytes, file has {size}"
            + (" (truncated?)" if size < expected else "")
        )
    return shape


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
