"""The student's side of a trusted verdict: runs inside the grading sandbox, never in the grader.

    python -m lablib.grading.harness FD_IN FD_OUT

The grader (grading/pipeline/verdict.py) sends the lab's setup code and the student's answer cells; this
process executes them in one namespace and then calls the student's functions when asked, returning only plain
data (wire.py). It decides nothing: expected values and comparisons stay with the grader. What the student's
code prints goes to bounded buffers (file descriptors 1 and 2 lead nowhere), so it cannot reach the protocol
except by writing to its descriptors, which only corrupts its own verdict.

Requests -> replies:
    {"op": "init", "cells": [{"label", "source", "guarded": [...]}]}   -> {"op": "cell", "index"} per cell, then
                                                                          {"op": "ready", "errors": [...]}
    {"op": "lookup", "name"}                   -> {"op": "found", "kind": "function"|"value"|"missing", ...}
    {"op": "call", "target", "args", "kwargs", "limit", "guarded"}  -> {"op": "result", ...}; meanwhile the
        student's code may call functions of the grader's ({"op": "callback"} -> {"op": "return"|"raise"})
    {"op": "exit"}
"""
from __future__ import annotations

import builtins
import contextlib
import io
import itertools
import os
import sys
import traceback
import warnings

import numpy as np

from . import wire
from .engine import shared_memory, warning_text
from .quiz import MAX_ANSWER_CHARS, NUMBER_TYPES
from .tripwire import CopyWatch, ReferenceCalled, fingerprints, guard, resolve

MAX_TEXT = 100_000


class Bounded(io.TextIOBase):
    """A text sink keeping the first ``MAX_TEXT`` characters (a print loop cannot exhaust memory)."""

    def __init__(self):
        self.parts, self.size, self.dropped = [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = MAX_TEXT - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        return "".join(self.parts) + (f"\n[... {self.dropped} more characters]" if self.dropped else "")


class _Shell:
    """Stands in for IPython's shell: magics and shell escapes do nothing here."""

    def run_line_magic(self, *args, **kwargs):
        return None

    run_cell_magic = system = getoutput = run_line_magic


def _student_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    lines = traceback.format_list(frames[-8:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-4000:]


def _error(exc: BaseException) -> dict:
    return {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": _student_traceback(exc)}


class Harness:
    def __init__(self, fd_in: int, fd_out: int):
        self.fd_in, self.fd_out = fd_in, fd_out
        self.namespace = {"__name__": "__main__", "__builtins__": builtins, "get_ipython": _Shell,
                          "display": lambda *a, **k: None}
        self.objects: dict[int, object] = {}
        self.pid = os.getpid()  # a process the student's code forked never speaks on the channel (_only_me)
        self.guarded: list[str] = []   # every reference guarded in this notebook's answer cells
        self.prints: dict = {}         # their fingerprints, taken before any student code ran
        self.watch = CopyWatch()

    def _guarded(self, names=None):
        """The guard over ``names`` (default: every guarded reference), for whenever the student's objects are
        touched (their cells, functions, reprs, signatures): no reference runs unnoticed."""
        names = self.guarded if names is None else [n for n in names if n in self.guarded]
        return guard(resolve(*names))

    def _watched(self, names):
        """The copy watch over the references ``names``, for a call of the student's function (where a copy's run
        decides a verdict); none when none of them is long enough to fingerprint."""
        prints = {digest: name for digest, name in self.prints.items() if name in names}
        return self.watch.watching(prints) if prints else contextlib.nullcontext()

    # -- values
    def _ref(self, obj) -> dict:
        self.objects[id(obj)] = obj
        try:
            text = str(repr(obj))[:200]
        except BaseException:  # noqa: BLE001 — a student's __repr__ may do anything
            text = "?"
        return {"ref": id(obj), "side": "sandbox", "type": type(obj).__name__[:100], "repr": text}

    def _resolve(self, ref: dict):
        if ref.get("side") == "grader":
            return self._callback(ref["ref"])
        if ref["ref"] not in self.objects:
            raise wire.WireError("unknown reference")
        return self.objects[ref["ref"]]

    def encode(self, value):
        return wire.encode(value, self._ref)

    def decode(self, data):
        return wire.decode(data, self._resolve)

    def _callback(self, ident: int):
        def grader_function(*args, **kwargs):
            wire.send(self.fd_out, {"op": "callback", "id": ident, "args": self.encode(list(args)),
                                    "kwargs": self.encode(kwargs)})
            reply = wire.receive(self.fd_in)
            if reply.get("op") == "return":
                return self.decode(reply["value"])
            kind = getattr(builtins, str(reply.get("type")), None)
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                kind = RuntimeError
            raise kind(reply.get("message", ""))

        return grader_function

    # -- requests
    def run_cells(self, cells: list[dict]) -> list:
        self.guarded = sorted({name for cell in cells for name in cell.get("guarded", [])})
        self.prints = fingerprints(resolve(*self.guarded))  # before any of the student's code runs
        errors = []
        for index, cell in enumerate(cells):
            wire.send(self.fd_out, {"op": "cell", "index": index})
            sink = Bounded()
            sys.stdout = sys.stderr = sink
            try:
                with self._guarded(cell.get("guarded", [])), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    exec(compile(cell["source"], f"<cell {cell['label']}>", "exec"), self.namespace)
                errors.append(None)
            except BaseException as exc:  # noqa: BLE001 — SystemExit, KeyboardInterrupt, tripwires: all recorded
                errors.append(_error(exc))
            finally:
                self._only_me()
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        return errors

    def _only_me(self) -> None:
        """A copy of this process forked by the student's code (a fork bomb) leaves at once: it would read the
        grader's requests and answer them beside the real harness."""
        if os.getpid() != self.pid:
            os._exit(0)

    def lookup(self, name: str) -> dict:
        if name not in self.namespace:
            return {"kind": "missing"}
        obj = self.namespace[name]
        if not callable(obj):
            return {"kind": "value", "type": type(obj).__name__, "repr": self._ref(obj)["repr"]}
        return {"kind": "function", "ref": self._ref(obj)["ref"], "params": _parameters(obj)}

    def answer(self, name: str) -> dict:
        """A quiz answer as plain data: only an exact str (bounded), int (bounded), float, or numpy number is sent;
        anything else by its type's name. The object's own methods are never called."""
        if name not in self.namespace:
            return {"kind": "missing"}
        obj = self.namespace[name]
        kind = type(obj)
        if obj is None:                                  # the released `q1 = None`: not answered yet
            return {"kind": "answer", "value": None}
        if kind is str and len(obj) <= MAX_ANSWER_CHARS:
            return {"kind": "answer", "value": obj}
        if kind is int and -(2 ** 63) < obj < 2 ** 63:
            return {"kind": "answer", "value": obj}
        if kind is not int and any(kind is number for number in NUMBER_TYPES):  # `is`: no metaclass __eq__/__hash__
            return {"kind": "answer", "value": float(obj)}
        try:
            name = type.__dict__["__name__"].__get__(kind)  # the class's name, whatever its metaclass says
        except BaseException:  # noqa: BLE001
            name = "object"
        return {"kind": "other", "type": ("str (too long)" if kind is str else
                                          "int (too large)" if kind is int else name)[:60]}

    def call(self, request: dict) -> dict:
        fn = self.decode(request["target"])
        args, kwargs = self.decode(request["args"]), self.decode(request["kwargs"])
        limit = request.get("limit")
        out, err = Bounded(), Bounded()
        reply = {"op": "result", "value": None, "error": None, "reference": None}
        sys.stdout, sys.stderr = out, err
        self.watch.first, self.watch.intact = None, True
        try:
            with self._guarded(request.get("guarded", [])) as hits, self._watched(request.get("guarded", [])), \
                    warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result = fn(*args, **kwargs)
                    if limit is not None:
                        result = list(itertools.islice(result, int(limit) + 1))
                    reply["aliases"] = shared_memory(result, {**dict(enumerate(args)), **kwargs})
                    reply["value"] = self.encode(result)
                except ReferenceCalled:
                    pass
                except BaseException as exc:  # noqa: BLE001
                    reply["error"] = _error(exc)
                reply["mutated"] = {"args": [[i, self.encode(a)] for i, a in enumerate(args) if _mutable(a)],
                                    "kwargs": [[k, self.encode(v)] for k, v in kwargs.items() if _mutable(v)]}
                intact = hits.intact()
            reply["reference"] = hits.first
            reply["copied"] = self.watch.first
            if not (intact and self.watch.intact):  # the guard or the watch was undone by the student's code
                reply["copied"] = reply["copied"] or next(iter(request.get("guarded") or []), None)
        finally:
            self._only_me()
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        reply["out"], reply["err"] = out.value(), err.value()
        reply["warnings"] = [warning_text(w.category.__name__, w.message)[:500] for w in caught[:20]]
        return reply

    def serve(self) -> None:
        while True:
            request = wire.receive(self.fd_in)
            op = request.get("op")
            if op == "init":
                wire.send(self.fd_out, {"op": "ready", "errors": self.run_cells(request["cells"])})
            elif op == "answer":
                wire.send(self.fd_out, {"op": "answer", **self.answer(str(request["name"]))})
            elif op == "lookup":
                with self._guarded():
                    found = {"op": "found", **self.lookup(str(request["name"]))}
                wire.send(self.fd_out, found)
            elif op == "call":
                try:
                    reply = self.call(request)
                except wire.WireError as exc:
                    reply = {"op": "result", "value": None, "reference": None, "out": "", "err": "", "warnings": [],
                             "mutated": {"args": [], "kwargs": []},
                             "error": {"type": "WireError", "message": str(exc), "traceback": ""}}
                wire.send(self.fd_out, reply)
            elif op == "exit":
                return


def _mutable(value) -> bool:
    return isinstance(value, (np.ndarray, dict, list, np.random.Generator))


def _parameters(fn) -> list | None:
    import inspect

    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [[p.name, int(p.kind), p.default is not inspect.Parameter.empty] for p in signature.parameters.values()]


def main(argv: list[str]) -> int:
    fd_in, fd_out = int(argv[0]), int(argv[1])
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(open(1, "wb", closefd=False))  # noqa: SIM115
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(open(2, "wb", closefd=False))  # noqa: SIM115
    try:
        Harness(fd_in, fd_out).serve()
    except (EOFError, BrokenPipeError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
