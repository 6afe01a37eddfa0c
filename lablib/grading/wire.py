"""Plain data between the grader and the sandbox that runs a student's code: JSON frames, never pickle.

A frame is an 8-byte big-endian length and a UTF-8 JSON document. Values are encoded as JSON with tagged
objects for what JSON lacks:

    {"nd": [dtype, shape, base64]}   numpy array of booleans or numbers (raw bytes, no object dtype)
    {"np": [dtype, value]}           numpy scalar
    {"tuple": [...]}, {"dict": [[key, value], ...]}, {"bytes": base64}
    {"rng": state}                   numpy Generator, by its bit generator's state (plain ints and strings)
    {"ref": id, "type": name, "repr": text}   anything else, kept by the side that made it and named by id

``decode`` builds only plain values; a ``ref`` becomes whatever the receiving side's ``resolve`` returns
(the sandbox: its object; the grader: an opaque ``Handle``). Frames larger than ``MAX_FRAME`` are refused.
"""
from __future__ import annotations

import base64
import json
import os
import struct

import numpy as np

MAX_FRAME = 256 << 20
NUMERIC_KINDS = "biufc"
MAX_DEPTH = 64


class WireError(Exception):
    """A malformed or oversized frame, or a value that cannot be encoded."""


def dumps(message: dict) -> bytes:
    return json.dumps(message, allow_nan=True, separators=(",", ":")).encode()


def send(fd: int, message: dict | bytes, wait=None, limit: int = MAX_FRAME) -> None:
    """Write one frame. On a non-blocking ``fd``, ``wait()`` is called whenever the pipe is full (it waits
    until ``fd`` is writable, or raises, e.g. on a deadline): a reader that never reads cannot block the writer
    for longer than ``wait`` allows."""
    data = message if isinstance(message, bytes) else dumps(message)
    if len(data) > limit:
        raise WireError(f"message of {len(data)} bytes exceeds the {limit} byte limit")
    payload = struct.pack(">Q", len(data)) + data
    view = memoryview(payload)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            if wait is None:
                raise
            wait()


def read_exactly(fd: int, n: int, wait=None) -> bytes:
    """``n`` bytes from ``fd``; ``wait()`` is called before each read (it may raise, e.g. on a deadline)."""
    chunks, missing = [], n
    while missing:
        if wait is not None:
            wait()
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, wait=None, limit: int = MAX_FRAME) -> dict:
    """Read one frame; one longer than ``limit`` bytes is refused before any of it is read."""
    (length,) = struct.unpack(">Q", read_exactly(fd, 8, wait))
    if length > limit:
        raise WireError(f"frame of {length} bytes exceeds the {limit} byte limit")
    try:
        message = json.loads(read_exactly(fd, length, wait))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also an int of too many digits
        raise WireError(f"malformed frame: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("a frame must hold a JSON object")
    return message


def encode(value, ref=None, depth: int = 0):
    """``value`` as JSON-able data; ``ref(value) -> dict`` encodes what is not plain data (default: refuse)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if isinstance(value, np.generic) and value.dtype.kind in NUMERIC_KINDS:  # before float: float64 is a float
        return {"np": [value.dtype.str, value.item() if value.dtype.kind != "c" else [value.real, value.imag]]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in NUMERIC_KINDS and not value.dtype.hasobject:
        return {"nd": [value.dtype.str, list(value.shape), base64.b64encode(value.tobytes(order="C")).decode()]}
    if isinstance(value, list):
        return [encode(v, ref, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v, ref, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k, ref, depth + 1), encode(v, ref, depth + 1)] for k, v in value.items()]}
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, np.random.Generator):
        return {"rng": _plain_state(value.bit_generator.state)}
    if ref is None:
        raise WireError(f"cannot send a {type(value).__name__}")
    return ref(value)


def _plain_state(state):
    if isinstance(state, dict):
        return {str(k): _plain_state(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"nd": encode(state)["nd"]}
    if isinstance(state, (np.integer,)):
        return int(state)
    return state


def _state(plain):
    if isinstance(plain, dict):
        if set(plain) == {"nd"}:
            return decode(plain)
        return {k: _state(v) for k, v in plain.items()}
    return plain


BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "Philox": np.random.Philox,
                  "SFC64": np.random.SFC64, "MT19937": np.random.MT19937}


def make_rng(state: dict) -> np.random.Generator:
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in BIT_GENERATORS:
        raise WireError(f"unknown bit generator {kind!r}")
    bitgen = BIT_GENERATORS[kind]()
    bitgen.state = _state(state)
    return np.random.Generator(bitgen)


def decode(data, resolve=None, depth: int = 0):
    """The value ``data`` encodes; ``resolve(ref_dict)`` turns a ref into an object (default: refuse)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, resolve, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise WireError(f"cannot decode {type(data).__name__}")
    if "nd" in data:
        dtype, shape, raw = data["nd"]
        dtype = np.dtype(dtype)
        if dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
            raise WireError(f"refusing array dtype {dtype}")
        buffer = base64.b64decode(raw)
        count = int(np.prod(shape)) if shape else 1
        if len(buffer) != count * dtype.itemsize:
            raise WireError("array data does not match its shape")
        return np.frombuffer(buffer, dtype=dtype).reshape(shape).copy()
    if "np" in data:
        dtype, value = data["np"]
        dtype = np.dtype(dtype)
        if dtype.kind not in NUMERIC_KINDS:
            raise WireError(f"refusing scalar dtype {dtype}")
        return dtype.type(complex(*value) if dtype.kind == "c" else value)
    if "tuple" in data:
        return tuple(decode(v, resolve, depth + 1) for v in data["tuple"])
    if "dict" in data:
        return {_key(decode(k, resolve, depth + 1)): decode(v, resolve, depth + 1) for k, v in data["dict"]}
    if "bytes" in data:
        return base64.b64decode(data["bytes"])
    if "rng" in data:
        return make_rng(data["rng"])
    if "ref" in data and resolve is not None:
        return resolve(data)
    raise WireError(f"cannot decode {sorted(data)}")


def _key(key):
    if isinstance(key, (list, dict)):
        raise WireError("dictionary keys must be hashable")
    if isinstance(key, np.ndarray):
        raise WireError("an array cannot be a dictionary key")
    return key
