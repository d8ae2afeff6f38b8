"""Versioned, pickle-free model files.

File format (``FORMAT_NAME = "recsys_core.mf"``, ``FORMAT_VERSION = 1``)
------------------------------------------------------------------------
A model file is an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` members,
written with ``np.savez``) that loads with ``allow_pickle=False``. It holds:

* one member per numeric array of the model (for matrix factorization:
  ``user_factors``, ``user_bias``, ``item_factors``, ``item_bias``,
  ``item_popularity``, ``user_counts``, ``seen_indptr``, ``seen_indices``,
  ``seen_ratings`` (the training ratings as CSR, user x item), ``user_ids``,
  ``item_ids``). Id arrays are ``int64`` or fixed-width unicode (``<U``);
  object arrays are never written.
* ``__metadata__``: a ``uint8`` array holding UTF-8 JSON with at least
  ``format`` (``"recsys_core.mf"``), ``format_version`` (int), ``checksum``
  and the model's own fields (hyperparameters, global mean, rating scale,
  id kinds, training-data fingerprint, library versions, ...).

``checksum`` is the hex SHA-256 of, for every array in sorted name order, the
name, dtype string, shape and raw bytes, followed by the canonical JSON
(sorted keys, no whitespace) of the metadata without the ``checksum`` key.
Loading recomputes it; a truncated, altered or foreign file, or one of an
unsupported format version, raises :class:`ModelFileError` with a message
saying what is wrong.

``path_or_file`` may be a filesystem path (``str``/``os.PathLike``) or a
binary file object opened for writing/reading (``io.BytesIO`` included).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "PathOrFile",
    "checksum",
    "read_model_file",
    "write_model_file",
]

FORMAT_NAME = "recsys_core.mf"
FORMAT_VERSION = 1
_META_KEY = "__metadata__"

PathOrFile = str | os.PathLike | IO[bytes]


class ModelFileError(ValueError):
    """A model file is truncated, altered, foreign or of an unsupported version."""


def _canonical_json(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def checksum(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> str:
    """SHA-256 over arrays (sorted by name) and metadata without ``checksum``."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(arr.dtype.str.encode())
        h.update(repr(tuple(arr.shape)).encode())
        h.update(memoryview(arr).cast("B") if arr.size else b"")
    h.update(_canonical_json({k: v for k, v in meta.items() if k != "checksum"}))
    return h.hexdigest()


def write_model_file(
    path_or_file: PathOrFile, arrays: dict[str, np.ndarray], meta: dict[str, Any]
) -> None:
    """Write ``arrays`` and ``meta`` (JSON-serialisable) as a versioned ``.npz``."""
    if _META_KEY in arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    for name, arr in arrays.items():
        if np.asarray(arr).dtype.kind == "O":
            raise ValueError(
                f"array {name!r} has dtype object, which cannot be saved without pickle"
            )
    full = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **meta}
    full.pop("checksum", None)
    full["checksum"] = checksum(arrays, full)
    payload = dict(arrays)
    payload[_META_KEY] = np.frombuffer(_canonical_json(full), dtype=np.uint8)
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(path_or_file)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)
        os.replace(tmp, path)
    else:
        np.savez(path_or_file, **payload)


def read_model_file(path_or_file: PathOrFile) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a file written by :func:`write_model_file`."""
    name = str(path_or_file) if isinstance(path_or_file, (str, os.PathLike)) else "<file object>"
    if isinstance(path_or_file, (str, os.PathLike)) and not Path(path_or_file).exists():
        raise FileNotFoundError(f"model file not found: {path_or_file}")
    try:
        with np.load(path_or_file, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zlib_error()) as exc:
        raise ModelFileError(
            f"{name} is not a readable model file (truncated or corrupted .npz): {exc}"
        ) from exc
    raw_meta = arrays.pop(_META_KEY, None)
    if raw_meta is None or raw_meta.dtype != np.uint8:
        raise ModelFileError(f"{name} has no {_META_KEY} member: not a recsys_core model file")
    try:
        meta = json.loads(raw_meta.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{name}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name} is not a {FORMAT_NAME} file (format={meta.get('format')!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{name} has format_version {version!r}; this library reads version {FORMAT_VERSION}"
        )
    expected = meta.get("checksum")
    actual = checksum(arrays, meta)
    if expected != actual:
        raise ModelFileError(
            f"{name}: checksum mismatch (stored {expected}, computed {actual}); "
            "the file was altered or corrupted"
        )
    return arrays, meta


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


def to_bytes(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    write_model_file(buf, arrays, meta)
    return buf.getvalue()


def from_bytes(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"from_bytes expects bytes, got {type(data).__name__}")
    return read_model_file(io.BytesIO(bytes(data)))
