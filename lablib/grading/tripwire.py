"""Make lablib's reference functions unusable while a student's function runs.

``guard(functions)`` swaps the ``__code__`` of each given function object for a tripwire that raises
``ReferenceCalled`` (a BaseException, so a student's ``except Exception`` does not swallow it) and restores
the original code in ``finally``. Because the function OBJECT is changed, every alias is caught too:
``from lablib.nn import dense_forward as f`` made before the check, ``optim.Adam`` (whose ``step`` calls the
kernel ``_adam_update``), and so on. The first hit is also remembered, in case the student's code catches it.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager

__all__ = ["ReferenceCalled", "resolve", "guard"]


class ReferenceCalled(BaseException):
    """A guarded lablib reference function was called during the student's call."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _Hits:
    def __init__(self):
        self.first: str | None = None


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
