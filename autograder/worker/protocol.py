"""The plain-data wire format between the grader and the sandboxed worker.

A message is a JSON header plus binary blobs, framed with 8-byte lengths::

    [len(header)][header JSON][n_blobs][len(blob 0)][blob 0]...

Values that can cross: None, bool, int, float (NaN/inf included), str, lists,
tuples, dicts with str keys, bytes, numpy arrays of numeric/bool/str dtype
(as ``.npy`` blobs read with ``allow_pickle=False``), numpy scalars, and
pandas DataFrames/Series (as CSV text).  Anything else is refused by
:func:`encode`; the worker keeps such objects and sends a *handle* instead.
Nothing here ever unpickles: decoding a hostile message can raise
:class:`ProtocolError` but cannot run code.

This module is imported on both sides of the trust boundary; it imports
nothing from the grader.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import sys
from typing import Callable

import numpy as np

FRAME = struct.Struct("<Q")
#: What a worker writes to its output just before the code it runs sends a signal (to itself, its
#: process group, the zygote, ...): the grader then knows that a death in the sandbox during that
#: call may be the code's own doing.
SELF_SIGNAL_NOTE = b"[the code in the sandbox sent a signal]"
#: Safety cap on one message from the worker (the grader refuses larger ones).
DEFAULT_MAX_BYTES = 1 << 30
SAFE_DTYPE_KINDS = "biufcUS"  # bool, ints, floats, complex, str, bytes - never object
#: The decoding budget (see :func:`decode`): the JSON part carries structure and scalars, numbers
#: in bulk travel as .npy blobs whose size is stated up front.  16 MB of JSON with at most ~1 M
#: values costs the grader at most a few hundred MB, whatever a hostile worker writes.
MAX_JSON_BYTES = 16 << 20
MAX_ITEMS = 1 << 20
MAX_DEPTH = 32
NPY_HEADER_PEEK = 1 << 16  # an .npy header is at most 64 KB (numpy's own reading limit is 10 KB)


class ProtocolError(ValueError):
    """A message could not be encoded or decoded as plain data."""


class ReplyOverBudget(ProtocolError):
    """A message would cost more to decode than the budget allows; nothing of it was built."""


class Unencodable(TypeError):
    """A value is not plain data (the worker turns it into a handle)."""


def encode(value) -> bytes:
    blobs: list[bytes] = []
    header = json.dumps(_to_json(value, blobs), allow_nan=True).encode()
    header += b" " * (-(len(header) + 3 * FRAME.size) % 64)  # the first blob starts 64-byte aligned
    parts = [FRAME.pack(len(header)), header, FRAME.pack(len(blobs))]
    for blob in blobs:
        parts += [FRAME.pack(len(blob)), blob]
    return b"".join(parts)


def _to_json(value, blobs):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in SAFE_DTYPE_KINDS:
        return _to_json(value.item(), blobs)
    if isinstance(value, (bytes, bytearray)):
        blobs.append(bytes(value))
        return {"__bytes__": len(blobs) - 1}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in SAFE_DTYPE_KINDS:
            raise Unencodable(f"array of dtype {value.dtype} (only numeric, bool and str arrays can be sent)")
        buffer = io.BytesIO()
        # np.require, not np.ascontiguousarray: the latter turns a 0-d array into shape (1,)
        np.lib.format.write_array(buffer, np.require(value, requirements="C"), allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"__array__": len(blobs) - 1}
    if type(value) in (list, tuple):
        items = [_to_json(v, blobs) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if type(value) is dict:
        if not all(isinstance(k, str) for k in value):
            raise Unencodable("dict with non-str keys")
        return {"__dict__": {k: _to_json(v, blobs) for k, v in value.items()}}
    frame = _frame_csv(value)
    if frame is not None:
        return frame
    raise Unencodable(f"{type(value).__module__}.{type(value).__qualname__}")


def is_plain_leaf(value) -> bool:
    """Whether a non-container value can be sent as it is (cheap: nothing is encoded)."""
    if value is None or type(value) in (bool, int, float, str, bytes, bytearray):
        return True
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype.kind in SAFE_DTYPE_KINDS
    pd = _pandas()
    return pd is not None and isinstance(value, (pd.DataFrame, pd.Series))


def _frame_csv(value):
    pd = _pandas()
    if pd is not None and isinstance(value, pd.DataFrame):
        return {"__frame__": value.to_csv(index=False)}
    if pd is not None and isinstance(value, pd.Series):
        return {"__series__": value.to_frame().to_csv(index=False)}
    return None


def _pandas():
    return sys.modules.get("pandas")  # only frames already in play; never imported just for this


def decode(data, *, max_json_bytes: int = MAX_JSON_BYTES, max_items: int = MAX_ITEMS,
           max_depth: int = MAX_DEPTH):
    """Decode a message within a memory budget fixed before anything is built.

    ``data`` is bytes-like (a ``bytearray`` from :func:`read_exact` is not copied:
    arrays are views of it).  The budget: the JSON header at most ``max_json_bytes``
    and, by a cheap count of its separators, at most ``max_items`` values (JSON
    expands up to ~50x in Python objects, so this is what bounds the cost); at
    most ``max_depth`` levels of nesting; each array's ``.npy`` header states its
    size, which must equal its blob's, so an array costs its blob and nothing more.
    A message over budget raises :class:`ReplyOverBudget` before it is decoded.
    """
    view = memoryview(data).cast("B")
    try:
        (n_header,) = FRAME.unpack_from(view, 0)
        _check_json_size(n_header, max_json_bytes)
        header_bytes = bytes(view[FRAME.size:FRAME.size + n_header])
        return _decode_parts(header_bytes, view[FRAME.size + n_header:], max_items, max_depth)
    except struct.error as exc:
        raise ProtocolError(f"malformed message: {exc}") from exc


def _check_json_size(n_header: int, max_json_bytes: int) -> None:
    if n_header > max_json_bytes:
        raise ReplyOverBudget(f"its JSON part is {n_header:,} bytes, more than the {max_json_bytes:,} "
                              "allowed (large data travels as numpy arrays)")


def _check_items(header_bytes: bytes, max_items: int) -> None:
    items = sum(header_bytes.count(c) for c in (b",", b"[", b"{", b"\\n"))
    if items > max_items:
        raise ReplyOverBudget(f"its JSON part holds about {items:,} values, more than the {max_items:,} "
                              "allowed (large data travels as numpy arrays)")


def _decode_parts(header_bytes: bytes, view: memoryview, max_items: int, max_depth: int):
    """The JSON part (already read and within its size) and ``view``: the blob count and the blobs."""
    try:
        _check_items(header_bytes, max_items)
        (n_blobs,) = FRAME.unpack_from(view, 0)
        if n_blobs > max_items:
            raise ReplyOverBudget(f"it has {n_blobs:,} binary parts, more than the {max_items:,} allowed")
        offset = FRAME.size
        blobs = []
        for _ in range(n_blobs):
            (size,) = FRAME.unpack_from(view, offset)
            offset += FRAME.size
            if offset + size > len(view):
                raise ProtocolError(f"malformed message: a binary part of {size:,} bytes runs past its end")
            blobs.append(view[offset:offset + size])
            offset += size
        header = json.loads(header_bytes)
    except RecursionError:
        raise ReplyOverBudget(f"it is nested more than {max_depth} levels deep") from None
    except (struct.error, ValueError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"malformed message: {exc}") from exc
    return _from_json(header, blobs, max_depth)


def read_body(fd: int, size: int, wait: Callable[[], None] | None = None, *, max_json_bytes: int = MAX_JSON_BYTES,
              max_items: int = MAX_ITEMS, max_depth: int = MAX_DEPTH):
    """Read and decode a message body of ``size`` bytes (its frame already read), refusing from its
    headers: a JSON part over budget is refused before it is read, its values are counted before the
    binary parts are read.  So a hostile reply costs the grader what the budget allows, not its size."""
    if size < 2 * FRAME.size:
        raise ProtocolError(f"malformed message: {size} bytes cannot hold its headers")
    (n_header,) = FRAME.unpack(read_exact(fd, FRAME.size, wait))
    _check_json_size(n_header, max_json_bytes)
    if n_header > size - 2 * FRAME.size:
        raise ProtocolError(f"malformed message: a JSON part of {n_header:,} bytes in a message of {size:,}")
    header_bytes = bytes(read_exact(fd, n_header, wait))
    _check_items(header_bytes, max_items)  # before the binary parts are read
    rest = read_exact(fd, size - FRAME.size - n_header, wait)
    return _decode_parts(header_bytes, memoryview(rest), max_items, max_depth)


def _from_json(value, blobs, depth):
    if isinstance(value, (list, dict)) and depth <= 0:
        raise ReplyOverBudget(f"it is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        return [_from_json(v, blobs, depth - 1) for v in value]
    if not isinstance(value, dict):
        return value
    try:
        if "__array__" in value:
            return _read_npy(blobs[value["__array__"]])
        if "__bytes__" in value:
            return bytes(blobs[value["__bytes__"]])
        if "__tuple__" in value:
            return tuple(_from_json(v, blobs, depth - 1) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _from_json(v, blobs, depth - 1) for k, v in value["__dict__"].items()}
        if "__frame__" in value or "__series__" in value:
            import pandas as pd

            frame = pd.read_csv(io.StringIO(value.get("__frame__", value.get("__series__"))))
            return frame if "__frame__" in value else frame.iloc[:, 0]
    except ProtocolError:
        raise
    except (IndexError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed value: {exc}") from exc
    return {k: _from_json(v, blobs, depth - 1) for k, v in value.items()}  # e.g. {"__handle__": ...}


def _read_npy(blob: memoryview) -> np.ndarray:
    """An ``.npy`` blob as an array viewing it: the header's size is checked against the blob first."""
    stream = io.BytesIO(blob[:NPY_HEADER_PEEK])  # the header only, never the data
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if dtype.hasobject or dtype.kind not in SAFE_DTYPE_KINDS:
        raise ProtocolError(f"array of dtype {dtype}: Object arrays cannot be loaded; only numeric, bool and str "
                            "arrays cross")
    count = math.prod(shape)
    if count * dtype.itemsize != len(blob) - stream.tell():
        raise ProtocolError(f"an array header says shape {shape} of {dtype} ({count * dtype.itemsize:,} bytes) "
                            f"but {len(blob) - stream.tell():,} bytes follow")
    array = np.frombuffer(blob, dtype=dtype, count=count, offset=stream.tell())
    array = array.reshape(shape, order="F" if fortran_order else "C")
    return array if array.flags.aligned else array.copy()


# ------------------------------------------------------------------ framing over fds


def write_message(fd: int, payload: bytes) -> None:
    view = memoryview(FRAME.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, n: int, wait: Callable[[], None] | None = None) -> bytearray:
    """Read ``n`` bytes into one buffer (no second copy); ``wait`` runs before each read (the grader's
    deadline check)."""
    buffer = bytearray(n)
    view, done = memoryview(buffer), 0
    while done < n:
        if wait is not None:
            wait()
        got = os.readv(fd, [view[done:done + (1 << 20)]])
        if not got:
            raise EOFError("the other side closed the channel")
        done += got
    return buffer


def read_message(fd: int) -> bytes:
    (size,) = FRAME.unpack(read_exact(fd, FRAME.size))
    return read_exact(fd, size)
