"""The check engine: run a student's function on a battery of cases and explain the first discrepancy.

An ``Exercise`` is declarative: its cases (public: fixed; hidden: drawn from a seed), the lablib-based
``reference`` with the student's signature, a ``drive(run, fn, case)`` function that calls the function
under test through ``run`` and records the quantities to compare, the lablib functions students must not
call (``guarded``), its mutation ``contract``, the ``edges`` its cases cover, its tolerance (and why) and a
catalogue of known ``Mistake``s.

``run_check`` runs the driver on each case: first with the reference (expected values, outside any tripwire),
then with the student's function (``StudentRun``). Every call of a student's function:

* checks the arity, runs under the tripwire with output and warnings captured (warnings the case itself
  provokes, e.g. overflow on a diverging learning rate, are expected and not reported);
* keeps a private copy of every array, dict and list argument and, after the call, compares: an argument the
  contract does not let the function change, changed, fails at once ("you modified `x` in place: x[0] was 1,
  is now 0.9"); so does a returned array sharing memory with an argument listed in ``Exercise.fresh``.

Each recorded quantity is compared with the reference's: type, shape (transpose hint), finiteness, values
(|got - expected| <= atol + rtol * |expected|, worst entry reported). The first difference is reported, but the
case runs on so that every quantity is known: a catalogued mistake is named only when its implementation
reproduces the student's output on EVERY quantity of the case (otherwise the message says what differs and
where, and guesses nothing); a hidden check asks the public cases too. A result that agrees only to float32
precision is told so.

Checks run the same way on a function in this process and on a student's function running in the grader's
sandbox (grading/pipeline/verdict.py): arguments the sandboxed function changed are mirrored back, and the
sandbox reports which returned arrays share memory with which arguments (``Outcome.aliases``).
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import io
import itertools
import os
import sys
import sysconfig
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import numpy as np

from .tripwire import ReferenceCalled, guard

__all__ = ["CheckFailure", "Mistake", "Edge", "Case", "Exercise", "EXERCISES", "register", "check", "run_check",
           "Outcome", "hidden_seed", "shared_memory", "HIDDEN_SEED_ENV", "DEFAULT_HIDDEN_SEED"]

HIDDEN_SEED_ENV = "LABLIB_HIDDEN_SEED"
DEFAULT_HIDDEN_SEED = 20260917  # the instructor default when LABLIB_HIDDEN_SEED is unset (the grader sets it)


class CheckFailure(AssertionError):
    """A check did not pass; the message says where, what was expected and (if known) which mistake.

    The same facts, without any value or text of the student's (for a hidden check's verdict, which must not
    show anything computed from the hidden cases): ``case`` (the failing case's number, or None), ``mistakes``
    ([(name, hint, variant label)] of the catalogued mistakes named) and ``reason`` (a code for a failure with a
    fixed explanation: not_implemented, reference_called, copied_reference; None otherwise)."""

    def __init__(self, message: str = "", *, case: int | None = None, mistakes=(), reason: str | None = None):
        super().__init__(message)
        self.case, self.mistakes, self.reason = case, list(mistakes), reason


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation: ``name``, ``hint`` and ``impl`` (the wrong code, student's signature).

    ``variants`` are more implementations of the same mistake, as (label, impl) pairs, e.g. every rounding of a
    constant; the label of the one that reproduces the student's output is shown after the hint.
    ``modifies`` / ``aliases`` name the argument this mistake changes in place / returns memory of: the mistake
    is named when the check sees exactly that (its ``impl`` then also shows it).
    """

    name: str
    hint: str
    impl: Callable | None = None
    variants: tuple = ()
    modifies: str | None = None
    aliases: str | None = None

    def implementations(self):
        yield from self.variants  # first: a variant says which one (e.g. which rounding) reproduces the output
        if self.impl is not None:
            yield "", self.impl


@dataclass(frozen=True)
class Edge:
    """An edge case a careful reviewer would test, and how to find it among the cases (``present(case)``);
    ``hidden=False`` for one the public cases cover and the hidden ones need not repeat."""

    what: str
    present: Callable
    hidden: bool = True


class Case(SimpleNamespace):
    """One test case: ``label`` (shown to students; for hidden cases shapes and parameters only) plus data.
    ``expected_warnings``: prefixes of warnings ("RuntimeWarning: overflow") the case itself provokes."""

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
    tolerance: str = ""  # why rtol and atol are what they are
    contract: str = "pure"  # the mutation contract, as the lab states it
    may_modify: tuple = ()  # arguments the contract lets the function change in place
    unchanged_atol: float = 0.0  # how far an argument may move and still count as unchanged (restored)
    fresh: dict = field(default_factory=dict)  # {argument: why no returned array may share its memory}
    returns: tuple = ()  # names of the parts of a returned tuple, for messages
    edges: tuple = ()  # Edge objects

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
    """Add exercises to ``EXERCISES``, refusing one that breaks the authoring rules (lablib.grading.exercises)."""
    for ex in exercises:
        if ex.name in EXERCISES:
            raise ValueError(f"exercise {ex.name!r} registered twice")
        if len(ex.catalogue) < 3:
            raise ValueError(f"exercise {ex.name!r} needs at least 3 catalogued mistakes")
        if not ex.tolerance:
            raise ValueError(f"exercise {ex.name!r} must say why its tolerance is what it is (tolerance=...)")
        if len(ex.edges) < 2:
            raise ValueError(f"exercise {ex.name!r} must list the edge cases its cases cover (edges=...)")
        unknown = [p for p in (*ex.may_modify, *ex.fresh) if p not in ex.parameters]
        if unknown:
            raise ValueError(f"exercise {ex.name!r}: {unknown} are not parameters of {ex.signature}")
        if ex.may_modify and not all(f"`{p}`" in ex.contract for p in ex.may_modify):
            raise ValueError(f"exercise {ex.name!r}: its contract must name what it may change: {ex.may_modify}")
        if not ex.may_modify and not ex.contract.startswith("pure"):
            raise ValueError(f"exercise {ex.name!r}: a function that changes none of its arguments is 'pure'")
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
    if isinstance(value, (np.integer, np.bool_)):
        return repr(value.item())
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
    with np.errstate(divide="ignore", invalid="ignore"):
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


FLOAT32_HINT = ("it agrees with the expected values only to float32 precision (about 7 digits): it looks computed in "
                "float32 — keep float64, e.g. drop the `dtype=np.float32` or `.astype(np.float32)`")


def looks_float32(got, expected) -> bool:
    """Does ``got`` look computed in float32: a float32/float16 array, or values that float32 represents exactly
    (when the expected ones are not), within float32's precision of ``expected`` (relative to its largest entry)?"""
    if isinstance(got, (np.ndarray, np.generic)) and got.dtype in (np.float32, np.float16):
        evidence = True
    else:
        arr = _as_numbers(got)
        exp = np.asarray(expected, dtype=np.float64)
        if arr is None or arr.shape != exp.shape or not np.all(np.isfinite(arr)):
            return False
        with np.errstate(over="ignore"):
            evidence = bool(np.all(arr.astype(np.float32) == arr) and not np.all(exp.astype(np.float32) == exp))
    arr, exp = _as_numbers(got), np.asarray(expected, dtype=np.float64)
    if not evidence or arr is None or arr.shape != exp.shape or not np.all(np.isfinite(exp)):
        return False
    scale = max(float(np.max(np.abs(exp), initial=0.0)), np.finfo(np.float32).tiny)
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(arr - exp) <= 1e-5 * scale))


# ---------------------------------------------------------------------------------------------------------
# Arguments: private copies, changes, shared memory


_DEPTH = 32  # how deep into nested containers arguments are copied and compared (a state may even hold itself)


def _snapshot(value, depth: int = 0):
    """A private copy of the data in ``value`` (arrays, dicts, lists, tuples, numbers); other objects as they are."""
    if depth > _DEPTH:
        return value
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _snapshot(v, depth + 1) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_snapshot(v, depth + 1) for v in value)
    return value


def _watched(value) -> bool:
    """Arguments whose changes a check looks for (the ones the grader's sandbox mirrors back, too)."""
    return isinstance(value, (np.ndarray, dict, list))


def first_change(name: str, before, after, atol: float = 0.0, depth: int = 0) -> str | None:
    """Where ``after`` (the caller's argument after the call) differs from ``before`` (its private copy):
    'x[0] was 1, is now 0.9', or None if nothing changed (entries within ``atol`` count as unchanged)."""
    if depth > _DEPTH:
        return None
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray):
            return f"{name} is no longer an array"
        if after.shape != before.shape:
            return f"{name} changed shape from {before.shape} to {after.shape}"
        if before.dtype.kind == "b" or after.dtype.kind == "b":
            moved = np.asarray(after != before)
        elif before.dtype.kind in "iufc" and after.dtype.kind in "iufc":
            with np.errstate(invalid="ignore", over="ignore"):
                moved = ~((np.abs(after - before) <= atol) | (after == before) | (np.isnan(after) & np.isnan(before)))
        else:
            moved = np.zeros(before.shape, dtype=bool)
        if moved.any():
            idx = tuple(np.argwhere(moved)[0])
            where = f"{name}[{', '.join(str(int(i)) for i in idx)}]" if idx else name
            return f"{where} was {_fmt(before[idx])}, is now {_fmt(after[idx])}"
        return None
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return f"{name} is no longer a dict"
        added, removed = [k for k in after if k not in before], [k for k in before if k not in after]
        if added:
            return f"{name} gained the key {added[0]!r}"
        if removed:
            return f"{name} lost the key {removed[0]!r}"
        for key in before:
            change = first_change(f"{name}[{key!r}]", before[key], after[key], atol, depth + 1)
            if change:
                return change
        return None
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)):
            return f"{name} is no longer a {type(before).__name__}"
        if len(after) != len(before):
            return f"{name} changed length from {len(before)} to {len(after)}"
        for i, (b, a) in enumerate(zip(before, after)):
            change = first_change(f"{name}[{i}]", b, a, atol, depth + 1)
            if change:
                return change
        return None
    if isinstance(before, (int, float, np.number)) and not isinstance(before, bool):
        try:
            moved = not (after == before or abs(after - before) <= atol or (after != after and before != before))
        except Exception:
            moved = True
        return f"{name} was {_fmt(before)}, is now {_fmt(after)}" if moved else None
    return None


def _arrays(value, path="", depth=0):
    """(path, array) for every numpy array in ``value`` (inside tuples, lists and dicts, ``_DEPTH`` levels deep)."""
    if isinstance(value, np.ndarray):
        yield path, value
    elif depth > _DEPTH:
        return
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _arrays(v, f"{path}[{i}]", depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _arrays(v, f"{path}[{k!r}]", depth + 1)


def shared_memory(result, inputs: dict) -> list:
    """[path in the result, key of the input] for each returned array that shares memory with an input array
    (``inputs``: argument position or keyword -> value). Computed where the call ran (see harness.py)."""
    found = []
    sources = [(key, a) for key, value in inputs.items() for _, a in _arrays(value)]
    for path, out in itertools.islice(_arrays(result), 1000):
        for key, a in sources:
            try:
                hit = np.shares_memory(out, a, max_work=100_000)
            except np.exceptions.TooHardError:
                hit = np.may_share_memory(out, a)
            if hit:
                found.append([path, key])
                break
    return found


# ---------------------------------------------------------------------------------------------------------
# Running one case with one implementation


class Run:
    """A driver's view of one run (reference or catalogued mistake): calls go straight through, recorded
    quantities are stored in ``outputs``, property checks are skipped."""

    student = False

    def __init__(self, ex: Exercise, case: Case, partners: Callable | None = None):
        self.ex, self.case = ex, case
        self.outputs: dict = {}
        self.alternatives: dict = {}  # quantity -> {mistake name: what that mistake gives}
        self.partners = partners  # name -> function, for a student's function run plainly (its own partners)

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

    def record(self, quantity: str, value, *, expected=None, alternatives=None, note: str = ""):
        """A quantity to compare with the reference's (or with ``expected`` when given). ``alternatives``:
        {mistake name: what that mistake gives for this quantity} (when a mistake is best computed here)."""
        self.outputs[quantity] = copy.deepcopy(value)
        if alternatives:
            self.alternatives[quantity] = alternatives

    def require(self, ok: bool, quantity: str, message: str, mistake: str | None = None):
        """A property of the student's output; ``mistake`` names the catalogued mistake that failing the property
        IMPLIES (e.g. a different mask for the same seed implies randomness not drawn from ``rng``)."""

    def check_array(self, quantity: str, value, shape: tuple):
        """Type, shape and finiteness only (for outputs whose values are checked by properties)."""

    def partner(self, name: str):
        """Another function of the lab that the driver needs (e.g. dense_forward to check dense_backward)."""
        return self.partners(name) if self.partners is not None else self.ex.partners[name]

    def forward(self, name: str, *args, shape: tuple | None = None):
        """(out, cache) of the lab's forward function ``name`` on ``args``: in a student run the student's own,
        which must return a usable (out, cache) (out of ``shape``, finite), else the check says to fix it first."""
        return self.partner(name)(*args)


def _quiet(fn, *args):
    """fn(*args) with stdout, stderr and warnings swallowed (reference and mistake runs)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def plain_run(ex: Exercise, fn, case: Case, partners: Callable | None = None) -> tuple[Run, bool]:
    """``fn`` driven quietly through ``case`` (straight calls, no checks): the run (what it recorded before any
    error) and whether the case ran to its end. ``partners``: name -> the partner functions to use (default: the
    references)."""
    run = Run(ex, case, partners)
    try:
        _quiet(ex.drive, run, fn, case.fresh())
    except Exception:
        return run, False
    return run, True


def student_partner(fn, name: str):
    """The student's own function ``name`` (defined next to ``fn``, in the notebook or in the sandbox), or None."""
    found = fn.lablib_partner(name) if hasattr(fn, "lablib_partner") else getattr(fn, "__globals__", {}).get(name)
    return found if callable(found) else None


def _explains(ex: Exercise, mistake: Mistake, impl, student: Run, case: Case) -> bool:
    """Does ``impl`` (one implementation of ``mistake``) reproduce every quantity the student's run recorded?
    (A quantity the driver computed the mistake's value for, in ``alternatives``, is compared with that.)"""
    mine = None
    for quantity, value in student.outputs.items():
        given = student.alternatives.get(quantity, {})
        if mistake.name in given:
            other = given[mistake.name]
        else:
            if impl is None:
                return False
            if mine is None:
                mine, complete = plain_run(ex, impl, case)
                if not complete or mine.outputs.keys() != student.outputs.keys():
                    return False
            other = mine.outputs[quantity]
        if not _same_output(value, other, ex):
            return False
    return bool(student.outputs)


def explained_by(ex: Exercise, fn, cases: list, k: int, runs: list, also: list = ()) -> list:
    """The catalogued mistakes (with the label of the variant) that reproduce the student's output on EVERY case
    of the check, and on the cases ``also`` (a hidden check also asks the public cases, which are designed to tell
    the catalogue's mistakes apart): ``runs[j]`` is the student's run of case j for j <= k (case k failed); the
    other cases are run here, plainly, with the student's own partner functions."""
    everything = [*cases, *also]
    plain: dict = {}

    def student(j):
        if j <= k:
            return runs[j], True
        if j not in plain:
            plain[j] = plain_run(ex, fn, everything[j], partners=lambda name: student_partner(fn, name))
        return plain[j]

    hits = []
    for m in ex.catalogue:
        if m.modifies or m.aliases:
            continue  # named by what the check saw happen to the arguments, not by the values
        for label, impl in [*m.implementations()] or [("", None)]:
            order = [k, *(j for j in range(len(everything)) if j != k)]  # the failing case first: most stop there
            if all(student(j)[1] and _explains(ex, m, impl, student(j)[0], everything[j]) for j in order):
                hits.append((m, label))
                break
    return hits


class _Notes:
    """What the student's code printed or warned, summarised in one line."""

    def __init__(self):
        self.lines = 0
        self.warnings: list[str] = []

    def add(self, out: str, err: str, warned: list[str], expected=()):
        self.lines += len((out + err).splitlines())
        for text in warned:
            if text not in self.warnings and not any(text.startswith(prefix) for prefix in expected):
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
    """What one call of a student's function did: its result or error, what it printed and warned, the first
    guarded lablib reference it called (None if none) and which returned arrays share memory with which
    arguments (``aliases``: [path in the result, argument position or keyword]). ``traceback`` is the student's
    own traceback when the call ran elsewhere (the sandbox), else ''. ``copied``: the guarded reference a copy
    of whose code ran during the call (found by the sandbox's code fingerprints, harness.py), else None."""

    result: object = None
    error: BaseException | None = None
    out: str = ""
    err: str = ""
    warnings: list = field(default_factory=list)
    reference: str | None = None
    traceback: str = ""
    aliases: list = field(default_factory=list)
    copied: str | None = None  # the guarded reference whose code (a copy of it) ran during the call


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
    if outcome.error is None:
        outcome.aliases = shared_memory(outcome.result, {**dict(enumerate(args)), **kwargs})
    else:
        outcome.traceback = student_traceback(outcome.error)
    return outcome


def warning_text(category: str, message) -> str:
    message = str(message)
    return f"{category}: {message.splitlines()[0] if message else ''}"


_LIBRARY_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))), sys.prefix, sys.base_prefix,
                       sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]})


def _is_students(filename: str) -> bool:
    """A frame of the student's code: a notebook cell or any file outside lablib, the interpreter and the
    installed packages."""
    return not os.path.abspath(filename).startswith(_LIBRARY_DIRS) or filename.startswith("<")


def _frame_name(filename: str) -> str:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        named = shell.compile.format_code_name(filename) if shell is not None else None
    except Exception:
        named = None
    return " ".join(named) if named else f'File "{filename}"'


def student_traceback(exc: BaseException, limit: int = 8) -> str:
    """The frames of the student's own code in ``exc``'s traceback (not lablib's, numpy's or IPython's), as text."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_students(f.filename)][-limit:]
    lines = []
    for f in frames:
        lines.append(f"  {_frame_name(f.filename)}, line {f.lineno}, in {f.name}")
        if f.line:
            lines.append(f"    {f.line.strip()}")
    lines += [line.rstrip("\n") for line in traceback.format_exception_only(type(exc), exc)]
    return "\n".join(lines)[-4000:]


class StudentRun(Run):
    """The student's run: arity checks, tripwire, captured output, argument changes and shared memory, and the
    comparison of each recorded quantity with the reference's ``expected`` outputs."""

    student = True

    def __init__(self, ex, case, fn, where, expected, notes):
        super().__init__(ex, case)
        self.fn, self.where, self.expected, self.notes = fn, where, expected, notes
        self.checks = 0
        self.first: tuple[str, str, str] | None = None  # (quantity, problem, extra line) of the first difference
        self.differ: list[str] = []  # every quantity that differs
        self.pending: tuple | None = None  # (text, lines) of a value difference whose mistakes run_check names
        self.partner_name: str | None = None  # set while the student's partner function is being checked

    # -- failures
    def message(self, text: str, mistakes=(), extra=()) -> str:
        """The failure message: where, what differs, extra lines, the (mistake, label) pairs, the notes."""
        lines = [f"{self.ex.name} — {self.where}:", f"  {text}"]
        lines += [f"  {line}" for line in extra if line]
        for m, label in mistakes:
            lines.append(f"  This matches a known mistake — {m.name}: {m.hint}" + (f" ({label})" if label else ""))
        note = self.notes.summary()
        if note:
            lines.append(f"  ({note})")
        return "\n".join(lines)

    def fail(self, text: str, mistakes=(), *, cause=None, reason: str | None = None):
        if self.first is not None:  # a value differed earlier: that comes first (and names nothing: cut short)
            self.report(complete=False)
        if self.partner_name is not None:
            text = f"fix `{self.partner_name}` first — this check uses it, and {text}"
            mistakes = ()
        failure = CheckFailure(self.message(text, [(m, "") for m in mistakes]),
                               mistakes=[(m.name, m.hint, "") for m in mistakes], reason=reason)
        self.pending = None
        if cause is not None:
            raise failure from cause
        raise failure

    # -- calling
    def _name_of(self, fn):
        if fn is not self.fn and self.partner_name:
            return self.partner_name
        return getattr(fn, "__name__", self.ex.name)

    def _params_of(self, fn):
        if fn is self.fn:
            return self.ex.parameters
        if self.partner_name in EXERCISES:
            return EXERCISES[self.partner_name].parameters
        try:
            return list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            return []

    def _contract_of(self, fn) -> Exercise:
        """The exercise whose contract binds ``fn``: this one, or the partner being called (e.g. the forward)."""
        return self.ex if fn is self.fn else EXERCISES.get(self.partner_name, self.ex)

    def _invoke(self, fn, args, kwargs, limit: int | None = None):
        name = self._name_of(fn)
        if not callable(fn):
            self.fail(f"`{name}` should be a function, got {_describe(fn)}")
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        params = self._params_of(fn)
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                lab = f" The lab's signature is:\n    {self.ex.signature}" if fn is self.fn else ""
                self.fail(f"your function cannot be called as `{_render_call(name, params, args, kwargs)}`: {exc}.{lab}")
        contract = self._contract_of(fn)
        named = {**{(params[i] if i < len(params) else f"arg{i}"): a for i, a in enumerate(args)}, **kwargs}
        keys = {**{(params[i] if i < len(params) else f"arg{i}"): i for i in range(len(args))}, **{k: k for k in kwargs}}
        kept = {p: _snapshot(a) for p, a in named.items() if _watched(a) and p not in contract.may_modify}
        if hasattr(fn, "lablib_invoke"):  # the student's function in the sandbox (grading/pipeline/verdict.py)
            outcome = fn.lablib_invoke(args, kwargs, limit, list(self.ex.guarded))
        else:
            outcome = invoke_here(fn, args, kwargs, limit, self.ex.guarded)
        result, error = outcome.result, outcome.error
        self.notes.add(outcome.out, outcome.err, outcome.warnings, getattr(self.case, "expected_warnings", ()))
        if outcome.copied is not None:
            self.fail(f"your function runs a copy of lablib's reference `{outcome.copied}` (the same code, "
                      f"renamed or not): a copy of the reference earns no points — implement it yourself "
                      f"(numpy only)", reason="copied_reference")
        if outcome.reference is not None:
            self.fail(f"your function calls lablib's reference `{outcome.reference}`; implement it yourself "
                      f"(numpy only)", reason="reference_called")
        if error is not None:
            if isinstance(error, NotImplementedError):
                if fn is self.fn:
                    text = f"{self.ex.name}: not implemented yet — replace `raise NotImplementedError()` in the " \
                           f"exercise cell with your code"
                else:
                    text = f"{self.ex.name}: this check uses your `{name}`, which is not implemented yet — fix " \
                           f"`{name}` first"
                raise CheckFailure(text, reason="not_implemented") from error
            call = _render_call(name, params, args, kwargs)
            where = "\n  Traceback of your code:\n" + outcome.traceback if outcome.traceback else ""
            self.fail(f"`{call}` raised {type(error).__name__}: {error}{where}", cause=error)
        for p, before in kept.items():
            change = first_change(p, before, named[p], contract.unchanged_atol)
            if change:
                mistakes = [m for m in contract.catalogue if m.modifies == p] if contract is self.ex else []
                fix = "" if mistakes else f" — leave `{p}` unchanged: compute into a new array (e.g. " \
                                          f"`a = a - lr * g` instead of `a -= lr * g`) or work on a copy"
                self.fail(f"you modified `{p}` in place: {change}{fix}", mistakes)
        position = {v: k for k, v in keys.items()}
        for path, key in outcome.aliases:
            p = position.get(key)
            if p in contract.fresh:
                mistakes = [m for m in contract.catalogue if m.aliases == p] if contract is self.ex else []
                what = self._returned(path)
                self.fail(f"{what} shares memory with the argument `{p}` (it is that array or a view of it): "
                          f"{contract.fresh[p]}", mistakes)
        return result

    def _returned(self, path: str) -> str:
        names = self.ex.returns
        if names and path.startswith("["):
            head, _, rest = path[1:].partition("]")
            if head.isdigit() and int(head) < len(names):
                return f"{names[int(head)]}{rest}"
        return f"the returned value{path}"

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
    def record(self, quantity, value, *, expected=None, alternatives=None, note=""):
        if expected is None and quantity not in self.expected:
            # The run took another course than the reference's (e.g. it stopped later): nothing to compare this
            # with. Something recorded earlier differed; if not, this is the first difference.
            self.outputs[quantity] = copy.deepcopy(value)
            self.differ.append(quantity)
            if self.first is None:
                self.first = (quantity, "should not be there: the lab's run ended before it", note)
            return
        if expected is None:
            expected = self.expected[quantity]
        self.checks += 1
        self.outputs[quantity] = copy.deepcopy(value)
        if alternatives:
            self.alternatives[quantity] = alternatives
        problem = compare(value, expected, self.ex.rtol, self.ex.atol)
        if problem is None:
            return
        self.differ.append(quantity)
        if self.first is None:
            extra = FLOAT32_HINT if looks_float32(value, expected) else ""
            self.first = (quantity, problem, "\n  ".join(filter(None, [extra, note])))

    def check_array(self, quantity, value, shape):
        self.checks += 1
        problem = compare(value, np.zeros(shape), self.ex.rtol, self.ex.atol, values=False)
        if problem is not None:
            self.fail(f"{quantity} {problem}")

    def require(self, ok, quantity, message, mistake=None):
        self.checks += 1
        if not ok:
            self.fail(f"{quantity}: {message}", [self.ex.mistake(mistake)] if mistake else [])

    # -- the case's end
    def report(self, complete: bool = True):
        """Raise the first difference (do nothing if every quantity matched). When the case ran to its end,
        ``pending`` keeps the message's parts so that run_check can name the mistakes that explain it."""
        if self.first is None:
            return
        quantity, problem, extra = self.first
        self.first = None
        others = [q for q in self.differ if q != quantity]
        lines = [extra]
        if others:
            shown = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
            lines.append(f"Also different: {shown}.")
        elif self.checks > 1 and complete:
            lines.append("Everything else this case compares is right.")
        text = f"{quantity} {problem}"
        self.pending = (text, lines) if complete else None
        raise CheckFailure(self.message(text, (), lines))

    def partner(self, name):
        fn = student_partner(self.fn, name)
        if fn is None:
            self.fail(f"this check uses your `{name}` (to build its input); define `{name}` in the same "
                      f"notebook and run its cell first")
        return fn

    def forward(self, name, *args, shape=None):
        fn = self.partner(name)
        self.partner_name = name
        try:
            out, cache = self.unpack(self.call(fn, *args), 2, "it should return (out, cache)")
            if shape is not None:
                problem = compare(out, np.zeros(shape), self.ex.rtol, self.ex.atol, values=False)
                if problem:
                    self.fail(f"its out {problem}")
        finally:
            self.partner_name = None
        return out, cache


def _same_output(a, b, ex) -> bool:
    """A recorded quantity equal in a student's run and a mistake's run (numbers by tolerance, else by ==)."""
    if _as_numbers(a) is not None or _as_numbers(b) is not None:
        return same(a, b, ex.rtol, ex.atol)
    try:
        return bool(a == b)
    except Exception:
        return False


# ---------------------------------------------------------------------------------------------------------
# check / run_check


def check(exercise: str, fn, *, hidden: bool = False) -> None:
    """Check the student's ``fn`` for ``exercise`` on the public (or hidden) cases; print one line, return None.

    Raises CheckFailure (an AssertionError) naming the exercise, the case, the quantity, the worst entry with
    expected and actual values and the tolerance, and the matching known mistake if any. In IPython (Jupyter)
    the failure shows as its message alone: no traceback through lablib (see ``show_check_failures``).
    """
    show_check_failures()
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
    checks, runs = 0, []
    for number, case in enumerate(cases, 1):
        expected = Run(ex, case)
        _quiet(ex.drive, expected, ex.reference, case.fresh())
        run = StudentRun(ex, case, fn, f"{kind} case {number}: {case.label}", expected.outputs, notes)
        runs.append(run)
        try:
            try:
                ex.drive(run, fn, case.fresh())
            except CheckFailure:
                raise
            except Exception:
                if run.first is None:
                    raise  # a bug of the driver's, not the student's
                run.report(complete=False)  # the driver tripped over an earlier wrong value: report that
            run.report()
        except CheckFailure as failure:
            if run.pending is not None:  # a difference in the values: name what explains EVERY case, if anything
                hits = explained_by(ex, fn, cases, number - 1, runs, also=ex.cases() if hidden else ())
                if hits:
                    failure = CheckFailure(run.message(run.pending[0], hits, run.pending[1]),
                                           mistakes=[(m.name, m.hint, label) for m, label in hits])
            failure.case = number
            # The message says everything (with the student's own frames when their code raised): the engine's
            # frames are dropped; the student's exception, if any, stays attached as __cause__.
            raise failure.with_traceback(None) from failure.__cause__
        checks += run.checks
    note = notes.summary()
    line = f"✓ {ex.name}: {checks} {kind} checks passed (all {len(cases)} cases)"
    if not hidden:
        line += " — hidden cases run when your lab is graded"
    return line + (f"; {note}" if note else "")


# ---------------------------------------------------------------------------------------------------------
# The first screen in Jupyter: a failed check is its message, not a traceback


def _show_failure(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for CheckFailure: the message's lines are the whole error output (ename and evalue
    stay CheckFailure and the message, for nbgrader and nbclient)."""
    lines = str(value).split("\n")
    shell._showtraceback(etype, value, lines)
    return lines


def show_check_failures() -> None:
    """In an IPython shell (a Jupyter kernel), show a CheckFailure as its message only. Installed by the first
    ``check``; a shell that already has another custom exception handler keeps it (and IPython's traceback)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return
    if getattr(shell, "_lablib_check_failures", False):
        return
    if getattr(shell, "custom_exceptions", ()):
        return
    shell.set_custom_exc((CheckFailure,), _show_failure)
    shell._lablib_check_failures = True
