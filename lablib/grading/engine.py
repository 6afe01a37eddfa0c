"""The check engine: run a student's function on a battery of cases and explain the first discrepancy.

An ``Exercise`` is declarative: its cases (public: fixed; hidden: drawn from a seed), the lablib-based
``reference`` with the student's signature, a ``drive(run, fn, case)`` function that calls the function
under test through ``run`` and records the quantities to compare, the lablib functions students must not
call (``guarded``) and a catalogue of known ``Mistake``s.

``check`` runs the driver three ways, always on fresh copies of the case: with the reference (expected
values, computed outside any tripwire), with the student's function (``StudentRun``: arity checks, captured
output, tripwire, exceptions turned into ``CheckFailure``, each recorded quantity compared at once), and,
only when something is wrong, with each catalogued mistake, to say which known mistake the wrong answer is.

Comparison order for one quantity: type, shape (transpose hint), finiteness, values (|got - expected| <=
atol + rtol * |expected|, worst entry reported).
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import io
import itertools
import os
import warnings
import zlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import numpy as np

from .tripwire import ReferenceCalled, guard

__all__ = ["CheckFailure", "Mistake", "Case", "Exercise", "EXERCISES", "register", "check", "run_check",
           "Outcome", "hidden_seed",
           "HIDDEN_SEED_ENV", "DEFAULT_HIDDEN_SEED"]

HIDDEN_SEED_ENV = "LABLIB_HIDDEN_SEED"
DEFAULT_HIDDEN_SEED = 20260917  # the instructor default when LABLIB_HIDDEN_SEED is unset (the grader sets it)


class CheckFailure(AssertionError):
    """A check did not pass; the message says where, what was expected and (if known) which mistake."""


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation: ``name``, ``hint`` and ``impl`` (the wrong code, student's signature;
    drivers may also detect a mistake by a property and name it, see ``Run.require``)."""

    name: str
    hint: str
    impl: Callable | None = None


class Case(SimpleNamespace):
    """One test case: ``label`` (shown to students; for hidden cases shapes and parameters only) plus data."""

    def fresh(self) -> SimpleNamespace:
        """A deep copy of the data, so that nothing a function does to its inputs leaks into other runs."""
        return copy.deepcopy(self)


@dataclass(frozen=True)
class Exercise:
    name: str
    lab: str
    signature: str  # the exact def line the lab shows
    summary: str  # one line
    reference: Callable  # lablib-based, with the student's signature
    drive: Callable  # drive(run, fn, case): call fn through run.call, record quantities with run.record
    public_cases: Callable  # () -> list[Case]
    hidden_cases: Callable  # (numpy Generator) -> list[Case]
    guarded: dict = field(default_factory=dict)  # {display name: lablib function} unusable during the call
    catalogue: tuple = ()  # Mistake objects
    partners: dict = field(default_factory=dict)  # {name: reference} of other lab functions the driver uses
    rtol: float = 1e-6
    atol: float = 1e-9

    @property
    def mistakes(self) -> list[tuple[str, str]]:
        return [(m.name, m.hint) for m in self.catalogue]

    def mistake(self, name: str) -> Mistake:
        for m in self.catalogue:
            if m.name == name:
                return m
        raise KeyError(f"{self.name} has no catalogued mistake {name!r}")

    def cases(self, hidden: bool = False, seed: int | None = None) -> list[Case]:
        if not hidden:
            return self.public_cases()
        seed = hidden_seed() if seed is None else seed
        return self.hidden_cases(np.random.default_rng([seed, zlib.crc32(self.name.encode())]))

    @property
    def parameters(self) -> list[str]:
        namespace: dict = {}
        exec(self.signature + "\n    pass\n", namespace)
        return list(inspect.signature(namespace[self.name]).parameters)


EXERCISES: dict[str, Exercise] = {}


def register(*exercises: Exercise) -> None:
    for ex in exercises:
        if ex.name in EXERCISES:
            raise ValueError(f"exercise {ex.name!r} registered twice")
        if len(ex.catalogue) < 3:
            raise ValueError(f"exercise {ex.name!r} needs at least 3 catalogued mistakes")
        EXERCISES[ex.name] = ex


def hidden_seed() -> int:
    raw = os.environ.get(HIDDEN_SEED_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_HIDDEN_SEED
    try:
        seed = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {HIDDEN_SEED_ENV} must be an integer, got {raw!r}") from None
    if seed < 0:
        raise ValueError(f"environment variable {HIDDEN_SEED_ENV} must be >= 0, got {seed}")
    return seed


# ---------------------------------------------------------------------------------------------------------
# Comparing one quantity


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.10g}"
    return repr(value)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} {value!r}"[:120]


def _index(idx) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ("," if len(idx) == 1 else "") + ")"


def _as_numbers(value):
    """value as a float array, or None if it is not real numeric data."""
    if value is None or isinstance(value, (str, bytes, dict)):
        return None
    try:
        arr = np.asarray(value)
    except Exception:  # ragged lists and other oddities
        return None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        return None
    return arr.astype(np.float64)


def compare(got, expected, rtol: float, atol: float, *, values: bool = True) -> str | None:
    """None if ``got`` matches ``expected``, else the reason (type, shape, finiteness, values, in that order);
    ``values=False`` stops after the finiteness check."""
    exp = np.asarray(expected, dtype=np.float64)
    want = "a single number" if exp.ndim == 0 else f"a numpy array of shape {exp.shape}"
    if got is None:
        return f"is None, expected {want} — did you forget a `return`?"
    arr = _as_numbers(got)
    if arr is None:
        kind = "a real number" if exp.ndim == 0 else f"a numpy array of real numbers, shape {exp.shape}"
        return f"should be {kind}, got {_describe(got)}"
    if arr.shape != exp.shape:
        if exp.ndim == 0:
            return f"should be a single number, got an array of shape {arr.shape}"
        if arr.ndim == 0:
            return f"should be an array of shape {exp.shape}, got a single number"
        hint = ""
        if arr.ndim >= 2 and arr.shape == exp.shape[::-1]:
            hint = " — it looks transposed (rows and columns swapped)"
        elif arr.size == exp.size:
            hint = " — same number of entries, different layout (check keepdims / reshape / the axis you sum over)"
        return f"has shape {arr.shape}, expected {exp.shape}{hint}"
    nonfinite = ~np.isfinite(arr) & np.isfinite(exp)
    if nonfinite.any():
        if arr.ndim == 0:
            return f"is {float(arr)} (expected {_fmt(float(exp))}) — look for overflow, log(0) or a division by zero"
        idx = tuple(np.argwhere(nonfinite)[0])
        return (f"contains {arr[idx]} at index {_index(idx)} (expected {_fmt(exp[idx])}); "
                f"{int(nonfinite.sum())} non-finite entries in all — look for overflow, log(0) or a division by zero")
    if not values:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.atleast_1d(np.abs(arr - exp))
        tol = np.atleast_1d(atol + rtol * np.abs(exp))
        agree = (np.isnan(arr) & np.isnan(exp)) | (arr == exp)  # NaN where NaN is expected; equal infinities
        bad = ~((diff <= tol) | np.atleast_1d(agree))
    arr, exp = np.atleast_1d(arr), np.atleast_1d(exp)
    if not bad.any():
        return None
    ratio = np.where(bad, np.nan_to_num(diff / tol, nan=np.inf, posinf=np.inf), 0.0)
    idx = tuple(np.unravel_index(int(np.argmax(ratio)), arr.shape))
    scalar = np.ndim(expected) == 0
    where = "" if scalar else f" at index {_index(idx)}"
    count = "" if scalar else f"; {int(bad.sum())} of {bad.size} entries differ"
    if np.asarray(expected).dtype.kind in "iu":  # counts and indices: exact
        return f"is wrong{where}: expected {int(exp[idx])}, got {_fmt(arr[idx])}{count}"
    return (f"is wrong{where}: expected {_fmt(exp[idx])}, got {_fmt(arr[idx])} "
            f"(|difference| {float(diff[idx]):.3g} > tolerance {float(tol[idx]):.3g} = {atol:g} + {rtol:g}·|expected|)"
            f"{count}")


def same(a, b, rtol: float, atol: float) -> bool:
    """Do two outputs agree (shape and values; NaN equals NaN)? Used to recognise a catalogued mistake."""
    x, y = _as_numbers(a), _as_numbers(b)
    if x is None or y is None or x.shape != y.shape:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all((np.abs(x - y) <= atol + rtol * np.abs(y)) | (np.isnan(x) & np.isnan(y)) | (x == y)))


# ---------------------------------------------------------------------------------------------------------
# Running one case with one implementation


class Run:
    """A driver's view of one run (reference or catalogued mistake): calls go straight through, recorded
    quantities are stored in ``outputs``, property checks are skipped."""

    student = False

    def __init__(self, ex: Exercise, case: Case):
        self.ex, self.case = ex, case
        self.outputs: dict = {}

    def call(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    def call_iter(self, fn, *args, limit: int, **kwargs):
        """Call a generator function and collect what it yields into a list (at most ``limit`` + 1 items)."""
        return list(itertools.islice(fn(*args, **kwargs), limit + 1))

    def unpack(self, result, n: int, what: str):
        """``result`` checked to be a tuple/list of ``n`` values (``what`` names them, e.g. '(out, cache)')."""
        return result

    def keys(self, result, keys, what: str):
        """``result`` checked to be a dict with (at least) ``keys``."""
        return result

    def record(self, quantity: str, value, *, expected=None, alternatives=None):
        """A quantity to compare with the reference's (or with ``expected`` when given)."""
        self.outputs[quantity] = copy.deepcopy(value)

    def require(self, ok: bool, quantity: str, message: str, mistake: str | None = None):
        """A property of the student's output; ``mistake`` names the catalogued mistake that breaks it."""

    def check_array(self, quantity: str, value, shape: tuple):
        """Type, shape and finiteness only (for outputs whose values are checked by properties)."""

    def partner(self, name: str):
        """Another function of the lab that the driver needs (e.g. dense_forward to check dense_backward)."""
        return self.ex.partners[name]


def _quiet(fn, *args):
    """fn(*args) with stdout, stderr and warnings swallowed (reference and mistake runs)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def run_plain(ex: Exercise, fn, case: Case) -> dict:
    """The quantities ``fn`` produces on ``case``, computed quietly (what was recorded before any error)."""
    run = Run(ex, case)
    try:
        _quiet(ex.drive, run, fn, case.fresh())
    except Exception:
        pass
    return run.outputs


class _Notes:
    """What the student's code printed or warned, summarised in one line."""

    def __init__(self):
        self.lines = 0
        self.warnings: list[str] = []

    def add(self, out: str, err: str, warned: list[str]):
        self.lines += len((out + err).splitlines())
        for text in warned:
            if text not in self.warnings:
                self.warnings.append(text)

    def summary(self) -> str:
        parts = []
        if self.lines:
            parts.append(f"your function printed {self.lines} line{'s' if self.lines != 1 else ''}")
        if self.warnings:
            more = f" (+{len(self.warnings) - 1} more)" if len(self.warnings) > 1 else ""
            parts.append(f"emitted {self.warnings[0][:100]}{more}")
        return "note: " + " and ".join(parts) + " (not an error)" if parts else ""


def _render_call(name, params, args, kwargs) -> str:
    shown = [params[i] if i < len(params) else f"arg{i}" for i in range(len(args))]
    shown += [f"{k}={_fmt(v) if isinstance(v, (int, float)) else k}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


@dataclass
class Outcome:
    """What one call of a student's function did: its result or error, what it printed and warned, and the
    first guarded lablib reference it called (None if none). ``traceback`` is the student's own traceback
    when the call ran elsewhere (the sandbox), else ''."""

    result: object = None
    error: BaseException | None = None
    out: str = ""
    err: str = ""
    warnings: list = field(default_factory=list)
    reference: str | None = None
    traceback: str = ""


def invoke_here(fn, args, kwargs, limit, guarded) -> Outcome:
    """Call ``fn`` in this process with the ``guarded`` references tripwired and its output captured; a
    generator is collected (at most ``limit`` + 1 items) inside the guard."""
    out, err = io.StringIO(), io.StringIO()
    outcome = Outcome()
    with guard(guarded) as hits, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome.result = fn(*args, **kwargs)
            if limit is not None:
                outcome.result = list(itertools.islice(outcome.result, limit + 1))
        except ReferenceCalled:
            pass
        except Exception as exc:  # re-raised by the caller, chained, once the output is restored
            outcome.error = exc
    outcome.out, outcome.err, outcome.reference = out.getvalue(), err.getvalue(), hits.first
    outcome.warnings = [warning_text(w.category.__name__, w.message) for w in caught]
    return outcome


def warning_text(category: str, message) -> str:
    message = str(message)
    return f"{category}: {message.splitlines()[0] if message else ''}"


class StudentRun(Run):
    """The student's run: arity checks, tripwire, captured output, and immediate comparison of each
    recorded quantity with the reference's ``expected`` outputs."""

    student = True

    def __init__(self, ex, case, fn, where, expected, notes):
        super().__init__(ex, case)
        self.fn, self.where, self.expected, self.notes = fn, where, expected, notes
        self.checks = 0

    # -- failures
    def message(self, text: str, mistakes=()) -> str:
        lines = [f"{self.ex.name} — {self.where}:", f"  {text}"]
        for m in mistakes:
            lines.append(f"  This matches a known mistake — {m.name}: {m.hint}")
        note = self.notes.summary()
        if note:
            lines.append(f"  ({note})")
        return "\n".join(lines)

    def fail(self, text: str, mistakes=()):
        raise CheckFailure(self.message(text, mistakes))

    # -- calling
    def _name_of(self, fn):
        return getattr(fn, "__name__", self.ex.name)

    def _params_of(self, fn):
        if fn is self.fn:
            return self.ex.parameters
        try:
            return list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            return []

    def _invoke(self, fn, args, kwargs, limit: int | None = None):
        __tracebackhide__ = True  # IPython leaves this frame out of the student's traceback
        name = self._name_of(fn)
        if not callable(fn):
            self.fail(f"`{name}` should be a function, got {_describe(fn)}")
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                lab = f" The lab's signature is:\n    {self.ex.signature}" if fn is self.fn else ""
                self.fail(f"your function cannot be called as "
                          f"`{_render_call(name, self._params_of(fn), args, kwargs)}`: {exc}.{lab}")
        if hasattr(fn, "lablib_invoke"):  # the student's function in the sandbox (grading/pipeline/verdict.py)
            outcome = fn.lablib_invoke(args, kwargs, limit, list(self.ex.guarded))
        else:
            outcome = invoke_here(fn, args, kwargs, limit, self.ex.guarded)
        result, error = outcome.result, outcome.error
        self.notes.add(outcome.out, outcome.err, outcome.warnings)
        if outcome.reference is not None:
            self.fail(f"your function calls lablib's reference `{outcome.reference}`; implement it yourself "
                      f"(numpy only)")
        if error is not None:
            if isinstance(error, NotImplementedError):
                whose = "" if fn is self.fn else f" (this check uses your `{name}`, which is)"
                raise CheckFailure(
                    f"{self.ex.name}: not implemented yet{whose} — replace `raise NotImplementedError()` in the "
                    f"exercise cell with your code") from error
            call = _render_call(name, self._params_of(fn), args, kwargs)
            where = ("traceback of your code:\n" + outcome.traceback) if outcome.traceback else \
                "(see the traceback above)"
            raise CheckFailure(self.message(f"`{call}` raised {type(error).__name__}: {error} {where}")) from error
        return result

    def call(self, fn, *args, **kwargs):
        return self._invoke(fn, args, kwargs)

    def call_iter(self, fn, *args, limit, **kwargs):
        result = self._invoke(fn, args, kwargs, limit=limit)
        if len(result) > limit:
            self.fail(f"`{self._name_of(fn)}` yields more than {limit} items: it should stop after one pass "
                      f"(an epoch); an endless `while True` generator never ends")
        return result

    # -- structure
    def unpack(self, result, n, what):
        if not isinstance(result, (tuple, list)) or len(result) != n:
            got = "None — did you forget a `return`?" if result is None else _describe(result)
            self.fail(f"{what}: expected a tuple of {n} values, got {got}")
        return result

    def keys(self, result, keys, what):
        if not isinstance(result, dict):
            got = "None — did you forget a `return`?" if result is None else _describe(result)
            self.fail(f"{what}: expected a dict, got {got}")
        missing = [k for k in keys if k not in result]
        if missing:
            self.fail(f"the returned dict is missing the key{'s' if len(missing) > 1 else ''} "
                      f"{', '.join(repr(k) for k in missing)} (it has {sorted(map(str, result))}); {what}")
        return result

    # -- values
    def record(self, quantity, value, *, expected=None, alternatives=None):
        if expected is None:
            expected = self.expected[quantity]
        self.checks += 1
        problem = compare(value, expected, self.ex.rtol, self.ex.atol)
        if problem is None:
            return
        hits = [self.ex.mistake(name) for name, alt in (alternatives or {}).items()
                if same(value, alt, self.ex.rtol, self.ex.atol)]
        for m in self.ex.catalogue:
            if m.impl is not None and m not in hits:
                outputs = run_plain(self.ex, m.impl, self.case)
                if quantity in outputs and same(value, outputs[quantity], self.ex.rtol, self.ex.atol):
                    hits.append(m)
        self.fail(f"{quantity} {problem}", hits)

    def check_array(self, quantity, value, shape):
        self.checks += 1
        problem = compare(value, np.zeros(shape), self.ex.rtol, self.ex.atol, values=False)
        if problem is not None:
            self.fail(f"{quantity} {problem}")

    def require(self, ok, quantity, message, mistake=None):
        self.checks += 1
        if not ok:
            self.fail(f"{quantity}: {message}", [self.ex.mistake(mistake)] if mistake else [])

    def partner(self, name):
        if hasattr(self.fn, "lablib_partner"):
            fn = self.fn.lablib_partner(name)
        else:
            fn = getattr(self.fn, "__globals__", {}).get(name)
        if fn is None or not callable(fn):
            self.fail(f"this check uses your `{name}` (to build its input); define `{name}` in the same "
                      f"notebook and run its cell first")
        return fn


def check(exercise: str, fn, *, hidden: bool = False) -> None:
    """Check the student's ``fn`` for ``exercise`` on the public (or hidden) cases; print one line, return None.

    Raises CheckFailure (an AssertionError) naming the exercise, the case, the quantity, the worst entry with
    expected and actual values and the tolerance, and the matching known mistake if any.
    """
    print(run_check(exercise, fn, hidden=hidden))


def run_check(exercise: str, fn, *, hidden: bool = False, seed: int | None = None) -> str:
    """``check`` without printing: the one-line verdict, or CheckFailure. ``seed`` overrides the hidden seed
    (the grader passes its secret here; the student's process never has it)."""
    if exercise not in EXERCISES:
        raise CheckFailure(f"unknown exercise {exercise!r}; known: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[exercise]
    if not callable(fn):
        raise CheckFailure(f"{ex.name}: expected your function, got {_describe(fn)} — did you overwrite "
                           f"`{ex.name}` with a value? Re-run the cell with `{ex.signature}`")
    kind = "hidden" if hidden else "public"
    notes = _Notes()
    cases = ex.cases(hidden, seed)
    checks = 0
    try:
        for number, case in enumerate(cases, 1):
            expected = Run(ex, case)
            _quiet(ex.drive, expected, ex.reference, case.fresh())
            run = StudentRun(ex, case, fn, f"{kind} case {number}: {case.label}", expected.outputs, notes)
            ex.drive(run, fn, case.fresh())
            checks += run.checks
    except CheckFailure as failure:
        # The message says everything: drop the engine's own frames from the traceback students see
        # (the student's exception, if any, stays attached as __cause__ with its full traceback).
        raise failure.with_traceback(None)
    note = notes.summary()
    return f"✓ {ex.name}: {checks} {kind} checks passed ({len(cases)} cases)" + (f" — {note}" if note else "")
