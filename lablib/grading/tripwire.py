"""Make lablib's reference functions unusable while a student's function runs.

``guard(functions)`` swaps the ``__code__`` of each given function object for a tripwire that raises
``ReferenceCalled`` (a BaseException, so a student's ``except Exception`` does not swallow it) and restores
the original code in ``finally``. Because the function OBJECT is changed, every alias is caught too:
``from lablib.nn import dense_forward as f`` made before the check, ``optim.Adam`` (whose ``step`` calls the
kernel ``_adam_update``), and so on. The first hit is also remembered, in case the student's code catches it.

A COPY of a reference's code (taken while no guard was active, rebuilt with ``types.FunctionType(ref.__code__,
...)``, exec'd from ``inspect.getsource``, retyped under another name) is another function object: the guard
does not see it. ``CopyWatch`` does: while a student's function runs, every function that starts is compared,
by a normalized fingerprint of its bytecode, with the references' (the policy: a copy earns nothing for its
exercise and is flagged ``copied_reference``; grading/README.md).
"""
from __future__ import annotations

import dis
import hashlib
import importlib
import sys
import threading
import types
from contextlib import contextmanager

__all__ = ["ReferenceCalled", "resolve", "guard", "fingerprint", "fingerprints", "CopyWatch"]


class ReferenceCalled(BaseException):
    """A guarded lablib reference function was called during the student's call."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _Hits:
    def __init__(self):
        self.first: str | None = None
        self.functions: dict = {}

    def intact(self) -> bool:
        """Is every guarded function still its tripwire (not given its code back by the student's code)?"""
        return all(func.__code__ is _codes.get(name) for name, func in self.functions.items())


_active: list[_Hits] = []
_codes: dict[str, object] = {}


def _hit(name: str):
    """Called by a tripwire: remember the first hit of the innermost guard, then raise."""
    if _active and _active[-1].first is None:
        _active[-1].first = name
    raise ReferenceCalled(name)


def _tripwire_code(name: str):
    # The code runs with the guarded function's own globals (a lablib module), so it imports this module
    # instead of referring to it by a global name.
    if name not in _codes:
        source = (
            "def tripwire(*args, **kwargs):\n"
            "    import lablib.grading.tripwire as tw\n"
            f"    tw._hit({name!r})\n"
        )
        namespace: dict = {}
        exec(compile(source, "<lablib.grading tripwire>", "exec"), namespace)
        _codes[name] = namespace["tripwire"].__code__
    return _codes[name]


def resolve(*dotted: str) -> dict:
    """{dotted name: function object} for names such as 'lablib.nn.dense_forward' or
    'lablib.nn.dense._dense_forward' (the longest importable module prefix, then attributes)."""
    found = {}
    for name in dotted:
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
        else:
            raise ImportError(f"cannot import a module from {name!r}")
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        if not hasattr(obj, "__code__"):
            raise TypeError(f"{name} is not a Python function, cannot guard it")
        found[name] = obj
    return found


@contextmanager
def guard(functions: dict):
    """Within the block, calling any of ``functions`` ({display name: function}) raises ReferenceCalled.

    Yields an object whose ``first`` attribute is the display name of the first guarded function called
    (None if none was).
    """
    hits = _Hits()
    hits.functions = dict(functions)
    saved = []
    _active.append(hits)
    try:
        for name, func in functions.items():
            saved.append((func, func.__code__))
            func.__code__ = _tripwire_code(name)
        yield hits
    finally:
        for func, code in saved:
            func.__code__ = code
        _active.remove(hits)


# ---------------------------------------------------------------------------------------------------------
# Copies of a reference: the same code, however it was obtained

_LOCAL_OPS = frozenset({"LOAD_FAST", "STORE_FAST", "DELETE_FAST", "LOAD_FAST_CHECK", "LOAD_CLOSURE", "LOAD_DEREF",
                        "STORE_DEREF", "DELETE_DEREF", "MAKE_CELL", "LOAD_CLASSDEREF"})
_SKIPPED_OPS = frozenset({"RESUME", "NOP", "CACHE", "EXTENDED_ARG", "PRECALL"})
MIN_INSTRUCTIONS = 8  # a shorter reference is too generic to call a match a copy


def _constant(value):
    if isinstance(value, types.CodeType):
        return ("code", fingerprint(value))
    if isinstance(value, str):
        return "<str>"  # messages and docstrings: a copy that rewords them is still a copy
    if isinstance(value, (tuple, frozenset)):
        return (type(value).__name__, tuple(_constant(v) for v in value))
    return repr(value)


def _instructions(code) -> list:
    ops = []
    for ins in dis.get_instructions(code):
        if ins.opname in _SKIPPED_OPS:
            continue
        if ins.opname in ("LOAD_CONST", "RETURN_CONST"):
            arg = _constant(ins.argval)
        elif ins.opname in _LOCAL_OPS:
            arg = ins.arg  # a local's slot, not its name: renamed variables give the same code
        elif ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs:
            arg = None
        else:
            arg = ins.argval if isinstance(ins.argval, (str, int, float, bool, type(None))) else repr(ins.argval)
        ops.append((ins.opname, arg))
    return ops


def fingerprint(code) -> str:
    """A digest of ``code``'s instructions, normalized so that a copy of a function hashes alike whatever it
    is called, whatever its variables are called, its docstring and messages, its file and line numbers: the
    opcodes, the names of globals and attributes, the numbers (nested functions by their own fingerprint)."""
    return hashlib.sha256(repr((code.co_argcount, code.co_kwonlyargcount, code.co_flags & 0x0F,
                                _instructions(code))).encode()).hexdigest()


def fingerprints(functions: dict) -> dict:
    """{fingerprint: display name} of the guarded ``functions`` (those long enough to be told apart)."""
    found = {}
    for name, func in functions.items():
        code = func.__code__
        if code is _codes.get(name) or len(_instructions(code)) < MIN_INSTRUCTIONS:
            continue
        found.setdefault(fingerprint(code), name)
    return found


class CopyWatch:
    """While active (``with watch.watching(prints):``), every Python function that starts running in this thread
    or in a thread started meanwhile is compared, by ``fingerprint``, with the references' ``prints``; ``first``
    is the first reference a copy of which ran. Each code object is fingerprinted once."""

    def __init__(self):
        self.known: dict = {}      # code object -> fingerprint
        self.prints: dict = {}
        self.first: str | None = None
        self.intact = True  # False when the student's code replaced or removed the watch's hook

    def _trace(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            digest = self.known.get(code)
            if digest is None:
                try:
                    digest = self.known[code] = fingerprint(code)
                except Exception:  # noqa: BLE001 — an unreadable code object is nobody's copy
                    digest = self.known[code] = ""
            name = self.prints.get(digest)
            if name is not None and self.first is None:
                self.first = name
        return None  # no line events: only calls are watched

    @contextmanager
    def watching(self, prints: dict):
        self.prints, self.first = prints, None
        previous = sys.gettrace()
        sys.settrace(self._trace)
        threading.settrace(self._trace)
        try:
            yield self
        finally:
            self.intact = sys.gettrace() == self._trace
            sys.settrace(previous)
            threading.settrace(None)
            self.prints = {}
