"""Trusted verdicts: every test cell's points are decided here, in the grader, never in the student's kernel.

A notebook's kernel runs the student's code, so anything it reports (a test cell without an error) can be forged:
a shadowed builtin, a patched ``check``, an input transformer that blanks the tests, hidden tracebacks. So the
grader re-does each test cell itself. The student's setup and answer cells run once more in a separate sandboxed
process (``lablib.grading.harness`` inside sandbox.py) that never sees the hidden seed; the grader runs the check
engine (``lablib.grading.engine.run_check``) with the secret seed, computing the expected values and comparing,
and asks the sandbox only to *call the student's functions*: arguments go in and results come back as plain
data (``lablib.grading.wire``: arrays, numbers, strings; never pickle). Functions of the grader's that a check
passes to the student's code (a gradient, a test function) stay here and are called back.

``TrustedVerdict`` (an nbgrader preprocessor placed before SaveAutoGrades) replaces each test cell's outputs by
the grader's verdict, so nbgrader's points and the feedback come from it. A test cell that passed in the kernel
but fails here earns nothing and is flagged ``unconfirmed_pass``; the other disagreement is flagged
``kernel_disagrees``. A function that hangs, a sandbox that dies or garbles the protocol fails the check it was
in (flags ``timeout``, ``sandbox_died``, ``protocol_error``) and the sandbox is started again for the next one.

The verdicts depend only on the cells' sources, not on what the kernel did, so ``StartTrustedVerdict`` (placed
before GradingExecute) computes them in a thread while the kernel runs the notebook, and ``TrustedVerdict`` waits
for them. Meanwhile the grader's main thread only waits on the kernel; the check engine's capture of output and
warnings (process-wide state) is therefore the thread's alone.
"""
from __future__ import annotations

import ast
import builtins
import copy
import inspect
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import Future
from dataclasses import dataclass, field

import nbformat
import numpy as np
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, List, Unicode

from lablib.grading import EXERCISES, CheckFailure, wire
from lablib.grading.engine import Outcome, run_check
from lablib.grading.quiz import MAX_ANSWER_CHARS, answer_problem

from grading import quizzes

from .preprocessors import grading_metadata, record
from .sandbox import Sandbox, sandbox_env


class SandboxFailure(Exception):
    """The sandbox did not answer in time, died, or broke the protocol; ``flag`` says which."""

    def __init__(self, flag: str, message: str):
        super().__init__(message)
        self.flag = flag


class Handle:
    """An object that lives in the sandbox (what a student's function returned that is not plain data)."""

    def __init__(self, ref: dict):
        self.ref = ref["ref"]
        self.type_name, self.text = str(ref.get("type", "object"))[:100], str(ref.get("repr", ""))[:200]

    def __repr__(self):
        return f"<{self.type_name} object in the student's code: {self.text[:80]}>"


def _exception(error: dict) -> BaseException:
    """The student's exception, rebuilt as the builtin class of that name when there is one (so that, e.g.,
    NotImplementedError still means 'not implemented yet'), else as a new class with the student's name."""
    name = str(error.get("type", "Exception"))[:100]
    kind = getattr(builtins, name, None)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        kind = type(name if name.isidentifier() else "StudentError", (Exception,), {})
    message = str(error.get("message", ""))[:2000]
    try:
        return kind(message)
    except Exception:  # an exception class with another constructor
        return type(name, (Exception,), {})(message)


class Session:
    """One sandboxed harness running a notebook's setup and answer cells; restarted after a failure.

    Everything the sandbox does is bounded by the grader, whatever the student's code sends or leaves unread:
    every wait has a deadline fixed when the request is sent (no frame the sandbox sends extends it: while the
    cells run, each cell's deadline starts with that cell's turn, in order, once), writes to the sandbox are
    non-blocking with the same deadline, a frame is at most ``max_frame`` bytes, the handles and callbacks
    it names are counted, a callback's reply is at most ``REPLY_RATIO`` times its request (plus ``REPLY_FLOOR``),
    cells that kill or hang it make it restart at most ``max_restarts`` times and calls at most
    ``max_call_restarts`` times, and nothing goes on after ``budget`` seconds
    (plus one call's grace)."""

    REPLY_RATIO, REPLY_FLOOR = 4, 1 << 20
    MAX_HANDLES = 10_000

    def __init__(self, cells: list[dict], *, sandbox: Sandbox, hide=(), call_timeout: float = 10.0,
                 start_timeout: float = 60.0, budget: float = 600.0, max_restarts: int = 4,
                 max_call_restarts: int = 12,
                 max_frame: int = 64 << 20):
        self.cells, self.sandbox, self.hide = cells, sandbox, list(hide)
        self.call_timeout, self.start_timeout = call_timeout, start_timeout
        self.max_restarts, self.max_call_restarts, self.max_frame = max_restarts, max_call_restarts, max_frame
        self.cell_restarts = 0             # restarts because a cell killed or hung the process
        self.planned = 0                   # restarts the grader chose (fresh)
        self.ends = time.monotonic() + budget + call_timeout  # the hard end of everything this session does
        self.proc = None
        self.generation = 0
        self.skip: set[int] = set()        # cells that killed or hung the sandbox: not run again
        self.cell_errors: list = []
        self.first_errors: list | None = None  # the cells' errors in the first run
        self.flags: list[str] = []
        self.notes: list[str] = []
        self.callbacks: dict[int, object] = {}
        self.handles: dict[int, Handle] = {}
        self.copied: dict[str, str] = {}   # exercise -> the reference a copy of which its function ran
        self.last_copied: str | None = None

    # -- process
    def _spawn(self) -> None:
        if self.cell_restarts > self.max_restarts or \
                self.generation - 1 - self.cell_restarts - self.planned >= self.max_call_restarts:
            raise self._fail("too_many_restarts", "the student's code stopped the grader's run too often; nothing "
                                                  "more is run")
        self.workdir = self.sandbox.workdir(quota=True)
        to_harness, self.fd_out = os.pipe()
        self.fd_in, from_harness = os.pipe()
        os.set_blocking(self.fd_out, False)  # a sandbox that does not read cannot block the grader (_send)
        cmd = [sys.executable, "-m", "lablib.grading.harness", str(to_harness), str(from_harness)]
        if self.sandbox.enabled:
            cmd = self.sandbox.command(cmd, self.workdir, hide=self.hide, private=True,
                                       fds=(to_harness, from_harness))
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, pass_fds=(to_harness, from_harness), env=sandbox_env(self.workdir),
                                     cwd=self.workdir, start_new_session=True, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        os.close(to_harness)
        os.close(from_harness)
        self.generation += 1
        self.handles.clear()
        self.callbacks.clear()

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        for fd in (self.fd_in, self.fd_out):
            os.close(fd)
        self.stderr.close()
        Sandbox.release_workdir(self.workdir)
        self.proc = None

    def _fail(self, flag: str, message: str) -> SandboxFailure:
        self.close()
        if flag not in self.flags:
            self.flags.append(flag)
        return SandboxFailure(flag, message)

    def _deadline(self, seconds: float) -> float:
        return min(time.monotonic() + seconds, self.ends)

    def _send(self, message: dict, deadline: float, limit: int | None = None) -> None:
        def wait():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([], [self.fd_out], [], remaining)[1]:
                raise TimeoutError

        try:
            wire.send(self.fd_out, message, wait, limit=limit or wire.MAX_FRAME)
        except TimeoutError:
            raise self._fail("timeout", "the student's code did not read the grader's message") from None
        except (BrokenPipeError, OSError):
            raise self._fail("sandbox_died", "the student's code stopped (it exited or was killed)") from None

    def _receive(self, deadline: float) -> dict:
        def wait():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd_in], [], [], remaining)[0]:
                raise TimeoutError

        try:
            return wire.receive(self.fd_in, wait, limit=self.max_frame)
        except TimeoutError:
            raise self._fail("timeout", "no answer") from None
        except EOFError:
            raise self._fail("sandbox_died", "the student's code stopped (it exited, crashed or ran out of "
                                             "memory or CPU time)") from None
        except (wire.WireError, RecursionError, MemoryError) as exc:
            raise self._fail("protocol_error", f"the student's process sent garbage ({str(exc)[:200]})") from None

    def start(self) -> None:
        """Run the cells (again); a cell that kills or hangs the sandbox is skipped on the next start. At most
        ``max_restarts`` such restarts (flag too_many_restarts): cells that exit the process cannot make the
        grader replay the slow ones before them again and again."""
        while True:
            self._spawn()
            cells = [c if i not in self.skip else {**c, "source": "pass"} for i, c in enumerate(self.cells)]
            self._send({"op": "init", "cells": cells}, self._deadline(self.start_timeout))
            deadline, current = self._deadline(self.start_timeout), None
            try:
                while True:
                    reply = self._receive(deadline)
                    if reply.get("op") == "cell" and reply.get("index") == (-1 if current is None else current) + 1 \
                            and reply["index"] < len(self.cells):
                        current = reply["index"]  # each cell's turn comes once, in order: its deadline starts
                        deadline = self._deadline(self.start_timeout)
                    elif reply.get("op") == "ready" and isinstance(reply.get("errors"), list):
                        self.cell_errors = [e if isinstance(e, dict) else None for e in reply["errors"]][:len(cells)]
                        if self.first_errors is None:
                            self.first_errors = self.cell_errors
                        return
                    else:
                        raise self._fail("protocol_error", "unexpected message while running the cells")
            except SandboxFailure as failure:
                if not isinstance(current, int) or current in self.skip or failure.flag == "too_many_restarts":
                    raise
                self.skip.add(current)
                self.cell_restarts += 1
                self.notes.append(f"{self.cells[current]['label']} stopped the grader's run of your code "
                                  f"({failure.flag}); it was left out")

    def ensure(self) -> None:
        if self.proc is None:
            self.start()

    def fresh(self) -> None:
        """The next request goes to a new process (a planned restart: not counted against ``max_call_restarts``)."""
        if self.proc is not None:
            self.close()
            self.planned += 1

    # -- values
    def encode(self, value):
        def ref(obj):
            if isinstance(obj, (RemoteFunction, Handle)):
                return {"ref": obj.ref, "side": "sandbox"}
            if callable(obj):
                self.callbacks[id(obj)] = obj
                return {"ref": id(obj), "side": "grader"}
            raise wire.WireError(f"cannot pass a {type(obj).__name__} to the student's code")

        return wire.encode(value, ref)

    def decode(self, data):
        def resolve(ref):
            if ref.get("side") == "grader" and ref.get("ref") in self.callbacks:
                return self.callbacks[ref["ref"]]
            key = ref.get("ref")
            if not isinstance(key, (int, str)) or isinstance(key, str) and len(key) > 40:
                raise wire.WireError("a reference must be a number")
            if key not in self.handles and len(self.handles) >= self.MAX_HANDLES:
                raise wire.WireError(f"more than {self.MAX_HANDLES} objects named")
            return self.handles.setdefault(key, Handle(ref))

        return wire.decode(data, resolve)

    # -- requests
    def lookup(self, name: str):
        """The student's global ``name``: a RemoteFunction, ('value', type, repr) or None if undefined."""
        self.ensure()
        deadline = self._deadline(self.call_timeout)
        self._send({"op": "lookup", "name": name}, deadline)
        reply = self._receive(deadline)
        if reply.get("kind") == "function":
            return RemoteFunction(self, name, reply.get("ref"), reply.get("params"))
        if reply.get("kind") == "value":
            return ("value", str(reply.get("type"))[:100], str(reply.get("repr"))[:200])
        return None

    def answer(self, name: str):
        """The student's global ``name`` as a quiz answer: ('answer', plain value), ('other', type name) when it is
        not plain data (the harness sends only exact str/int/float), or None if undefined."""
        self.ensure()
        deadline = self._deadline(self.call_timeout)
        self._send({"op": "answer", "name": name}, deadline)
        reply = self._receive(deadline)
        kind = reply.get("kind")
        if kind == "missing":
            return None
        if kind == "other":
            return ("other", str(reply.get("type", "object"))[:60])
        value = reply.get("value")
        if kind != "answer" or type(value) not in (str, int, float, type(None)) or (
                type(value) is str and len(value) > MAX_ANSWER_CHARS):
            raise self._fail("protocol_error", "the student's process sent garbage instead of an answer")
        return ("answer", value)

    def call(self, target: "RemoteFunction", args, kwargs, limit, guarded) -> Outcome:
        deadline = self._deadline(self.call_timeout)  # fixed now: nothing the sandbox sends extends it
        self.callbacks.clear()  # only the grader's functions passed in this call can be called back
        request = {"op": "call", "target": {"ref": target.ref, "side": "sandbox"}, "args": self.encode(list(args)),
                   "kwargs": self.encode(dict(kwargs)), "limit": limit, "guarded": list(guarded)}
        self._send(request, deadline)
        while True:
            reply = self._receive(deadline)
            if reply.get("op") == "callback":
                self._answer_callback(reply, deadline)
                continue
            if reply.get("op") != "result":
                raise self._fail("protocol_error", "unexpected message during a call")
            break
        try:
            copied = reply.get("copied")
            if isinstance(copied, str) and copied in guarded:
                self.last_copied = copied
            outcome = Outcome(out=str(reply.get("out", ""))[:200_000], err=str(reply.get("err", ""))[:200_000],
                              warnings=[str(w)[:500] for w in (reply.get("warnings") or [])[:20]],
                              reference=reply.get("reference") if reply.get("reference") in guarded else None,
                              copied=self.last_copied)
            if reply.get("error"):
                outcome.error = _exception(reply["error"])
                outcome.traceback = str(reply["error"].get("traceback", ""))[:4000]
            else:
                outcome.result = self.decode(reply.get("value"))
                outcome.aliases = [[str(path)[:200], key] for path, key in (reply.get("aliases") or [])[:100]
                                   if isinstance(key, (int, str))]
            mutated = reply.get("mutated") or {}
            for index, value in mutated.get("args", [])[:len(args)]:
                if isinstance(index, int) and 0 <= index < len(args):
                    _update(args[index], self.decode(value))
            for key, value in mutated.get("kwargs", [])[:len(kwargs)]:
                if isinstance(key, str) and key in kwargs:
                    _update(kwargs[key], self.decode(value))
        except (wire.WireError, TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
            raise self._fail("protocol_error", f"the student's process sent garbage ({str(exc)[:200]})") from None
        return outcome

    def _answer_callback(self, request: dict, deadline: float) -> None:
        """Call the grader's function the student's code called, and send its result: refused when its
        arguments broadcast to more than they hold (a small request asking for a huge computation) or when the
        result is larger than ``REPLY_RATIO`` times the request (plus ``REPLY_FLOOR`` bytes)."""
        fn = self.callbacks.get(request.get("id"))
        asked = len(wire.dumps(request))
        try:
            args, kwargs = self.decode(request.get("args")), self.decode(request.get("kwargs"))
            if fn is None or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise TypeError("bad callback")
            _refuse_broadcast([*args, *kwargs.values()], self.REPLY_RATIO)
            with np.errstate(all="ignore"), warnings.catch_warnings():  # e.g. overflow on a diverging run
                warnings.simplefilter("ignore")
                value = fn(*args, **kwargs)
            room = self.REPLY_RATIO * asked + self.REPLY_FLOOR
            if _array_bytes(value) * 4 // 3 > room:  # measured before encoding: a refused reply is never encoded
                raise ValueError(f"the result (arrays of {_array_bytes(value)} bytes) is far larger than the request "
                                 f"({asked} bytes)")
            reply = wire.dumps({"op": "return", "value": self.encode(value)})
            if len(reply) > room:
                raise ValueError(f"the result ({len(reply)} bytes) is far larger than the request ({asked} bytes)")
        except (wire.WireError, RecursionError):
            raise self._fail("protocol_error", "the student's process sent a malformed callback") from None
        except Exception as exc:  # the grader's function refused the student's arguments: their error
            reply = {"op": "raise", "type": type(exc).__name__, "message": str(exc)[:500]}
        self._send(reply, deadline)


def _array_bytes(value, depth: int = 0) -> int:
    """Bytes of the numpy arrays in ``value`` (nested lists, tuples and dict values; as deep as the wire goes)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if depth > wire.MAX_DEPTH:
        return 0
    if isinstance(value, (list, tuple)):
        return sum(_array_bytes(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_array_bytes(v, depth + 1) for v in value.values())
    return 0


def _refuse_broadcast(values, ratio: int) -> None:
    """ValueError when the arrays among ``values`` broadcast together to ``ratio`` times more entries than the
    largest of them (e.g. shapes (n, 1) and (1, n): a small request for n² work)."""
    shapes = [np.shape(v) for v in values if isinstance(v, (np.ndarray, np.generic))]
    if len(shapes) < 2:
        return
    try:
        together = np.broadcast_shapes(*shapes)
    except ValueError:
        return  # they do not broadcast: the grader's function refuses them itself
    if math.prod(together) > ratio * max(math.prod(s) for s in shapes) + 1024:
        raise ValueError(f"arguments of shapes {shapes[:4]} broadcast to {together}: refused")


def _update(original, new) -> None:
    """Mirror in ``original`` what the student's function did to its copy in the sandbox."""
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray) and original.shape == new.shape:
        if original.flags.writeable:
            original[...] = new
    elif isinstance(original, dict) and isinstance(new, dict):
        original.clear()
        original.update(new)
    elif isinstance(original, list) and isinstance(new, list):
        original[:] = new
    elif isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
        original.bit_generator.state = new.bit_generator.state


_DEFAULT = object()


class RemoteFunction:
    """The student's function, called in the sandbox; the check engine sees an ordinary callable."""

    def __init__(self, session: Session, name: str, ref: int, params):
        self.session, self.__name__, self.ref = session, name, ref
        self.generation = session.generation
        self.__signature__ = _signature(params)

    def __repr__(self):
        return f"<the student's function {self.__name__}>"

    def _live(self) -> "RemoteFunction":
        if self.session.proc is not None and self.generation == self.session.generation:
            return self
        found = self.session.lookup(self.__name__)  # restarted since: the same name in the new process
        if not isinstance(found, RemoteFunction):
            raise SandboxFailure("sandbox_died", f"`{self.__name__}` is gone after a restart")
        return found

    def lablib_invoke(self, args, kwargs, limit, guarded) -> Outcome:
        try:
            return self.session.call(self._live(), args, kwargs, limit, guarded)
        except SandboxFailure as failure:
            seconds = self.session.call_timeout
            why = (f"did not finish within {seconds:g} s (an endless loop?)" if failure.flag == "timeout"
                   else str(failure))
            raise CheckFailure(f"{self.__name__}: {why} — grading flag {failure.flag}", reason=failure.flag) from None

    def lablib_partner(self, name: str):
        found = self.session.lookup(name)
        return found if isinstance(found, RemoteFunction) else None

    def __call__(self, *args, **kwargs):
        outcome = self.lablib_invoke(args, kwargs, None, [])
        if outcome.error is not None:
            raise outcome.error
        return outcome.result


def _signature(params) -> inspect.Signature | None:
    if not isinstance(params, list):
        return None
    try:
        return inspect.Signature([
            inspect.Parameter(str(name), inspect._ParameterKind(int(kind)),
                              default=_DEFAULT if has_default else inspect.Parameter.empty)
            for name, kind, has_default in params])
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------
# A notebook's test cells


@dataclass
class CellVerdict:
    passed: bool
    text: str
    kernel_blind: bool = False  # the kernel's result cannot agree or disagree (kernel_blind() below)


@dataclass
class NotebookVerdicts:
    cells: dict = field(default_factory=dict)   # index of a test cell -> CellVerdict
    flags: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def checks_in(source: str) -> list[tuple[str, str, bool]] | None:
    """The ``check("exercise", name, hidden=...)`` calls of a test cell, or None if it holds anything else
    (then it cannot be verified by the grader and its kernel result stands)."""
    return _kit_calls(source, "check", keywords=("hidden",))


def quiz_checks_in(source: str) -> list[tuple[str, str, bool]] | None:
    """The ``check_quiz("lab01:q1", q1, choices=... | number=True | hidden=True)`` calls of a quiz test cell as
    (question, variable, hidden), or None if it holds anything else."""
    found = _kit_calls(source, "check_quiz", keywords=("choices", "number", "hidden"))
    return found if found and all(":" in question for question, _, _ in found) else None


def kernel_blind(source: str) -> bool:
    """A test cell whose result in the student's kernel the grader ignores: a quiz cell (the kernel has no key) or
    a cell of hidden checks only (the kernel, without the secret seed, draws other cases than the grader). While a
    trusted verdict is pending, the kernel does not run these cells (GradingExecute)."""
    checks = checks_in(source)
    if checks is not None:
        return all(hidden for _, _, hidden in checks)
    return quiz_checks_in(source) is not None


def _kit_calls(source: str, function: str, keywords) -> list[tuple[str, str, bool]] | None:
    """[(first argument, second argument's name, hidden)] when every statement of ``source`` is a call
    ``function("a string", name, keyword=constant, ...)`` with only ``keywords``; else None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == function
                and len(call.args) == 2 and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str) and isinstance(call.args[1], ast.Name)):
            return None
        hidden = False
        for kw in call.keywords:
            if kw.arg not in keywords or not isinstance(kw.value, ast.Constant):
                return None
            hidden = bool(kw.value.value) if kw.arg == "hidden" else hidden
        found.append((call.args[0].value, call.args[1].id, hidden))
    return found or None


def _python(source: str) -> str:
    """IPython syntax (%magic, !shell) as plain Python, transformed here, without running anything (bounded:
    IPython's translation is quadratic in the number of magics, tamper.ipython_to_python)."""
    from .tamper import ipython_to_python

    return ipython_to_python(source)


def _label(cell, index) -> str:
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index}" + (f" ('{gid}')" if gid else "")


def notebook_verdicts(nb, *, seed, sandbox: Sandbox, hide=(), call_timeout: float = 10.0,
                      budget: float = 120.0, cell_timeout: float = 60.0) -> NotebookVerdicts:
    """The grader's verdict on each test cell of ``nb`` (the rebuilt notebook: the lab's own cells and the
    student's answers). ``seed``: the hidden cases' seed, or a function exercise -> seed (per student, secret.py).

    Nothing the student's code could have learnt from a hidden case reaches a verdict's text: every public check
    runs before the first hidden one, and the hidden ones in a new process (so no public message is written by code
    that has seen a hidden input, and nothing the public checks left behind, a thread, a fork, runs beside them), the
    grader's notes on the student's cells come from the run before any check, and a hidden check's text is made
    by the grader from facts alone (which case, which catalogued mistake, which grading flag: ``_hidden_text``),
    never from the student's values, messages or names. A function found running a copy of a guarded reference
    (flag ``copied_reference``) fails every check of its exercise."""
    tests, quiz_tests, cells, guarded = {}, {}, [], set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if utils.is_grade(cell) and not utils.is_solution(cell):
            tests[index] = checks_in(cell.source)
            if tests[index] is None and (quiz := quiz_checks_in(cell.source)) is not None:
                quiz_tests[index] = quiz
                del tests[index]
        elif utils.is_solution(cell) or utils.is_locked(cell):
            cells.append({"label": _label(cell, index), "source": cell.source, "answer": utils.is_solution(cell)})
    for checks in filter(None, tests.values()):
        for exercise, _, _ in checks:
            if exercise in EXERCISES:
                guarded.update(EXERCISES[exercise].guarded)
    for cell in cells:
        try:
            cell["source"] = _python(cell["source"])
        except Exception:  # not valid IPython either: the harness reports the SyntaxError as the cell's error
            pass
        cell["guarded"] = sorted(guarded) if cell.pop("answer") else []
    seed_of = seed if callable(seed) else (lambda _exercise: seed)
    result = NotebookVerdicts()
    session = Session(cells, sandbox=sandbox, hide=hide, call_timeout=call_timeout, budget=budget,
                      start_timeout=cell_timeout)
    started = time.monotonic()
    outcomes: dict[tuple[int, int], tuple[bool, str]] = {}
    quiz_verdicts: dict[int, CellVerdict] = {}
    try:
        for phase_hidden in (False, True):
            if phase_hidden:
                session.fresh()  # the hidden cases go to a process the public checks left nothing in
            else:
                # the quiz answers first: plain data, read (and quoted) before any student function runs, so before
                # any hidden case exists in the student's process and whatever the functions do when called
                quiz_verdicts = _quiz_verdicts(session, quiz_tests)
            for index, checks in tests.items():
                for position, (exercise, name, hidden) in enumerate(checks or ()):
                    if hidden != phase_hidden or any(not outcomes.get((index, p), (True,))[0]
                                                     for p in range(position)):
                        continue  # a cell stops at its first failure
                    if time.monotonic() - started > budget:
                        outcomes[index, position] = (False, f"{exercise}: not checked — the grading time budget "
                                                            f"({budget:g} s) was used up")
                        if "budget_exceeded" not in session.flags:
                            session.flags.append("budget_exceeded")
                        continue
                    outcomes[index, position] = _one_check(session, exercise, name, hidden, seed_of(exercise))
    finally:
        session.close()
    # the first run's errors (a fresh process runs the cells: they cannot hold anything from a hidden case)
    cell_notes = [f"in the grader's run of your code, {cell['label']} raised {error.get('type')}: "
                  f"{str(error.get('message'))[:200]}" for cell, error in zip(cells, session.first_errors or [])
                  if error]
    for index, checks in tests.items():
        if checks is None:
            result.notes.append(f"{_label(nb.cells[index], index)} is not a plain check cell: its kernel "
                                "result stands")
            continue
        lines, passed = [], True
        for position, (exercise, _, _) in enumerate(checks):
            if (index, position) not in outcomes:
                break
            ok, text = outcomes[index, position]
            if exercise in session.copied:
                ok, text = False, (f"{exercise}: no points — your code runs a copy of lablib's reference "
                                   f"`{session.copied[exercise]}` (grading flag copied_reference)")
            passed &= ok
            lines.append(text)
            if not ok:
                break
        result.cells[index] = CellVerdict(passed, "\n".join(lines),
                                          kernel_blind=all(hidden for _, _, hidden in checks))
    result.cells.update(quiz_verdicts)
    result.flags, result.notes = session.flags, [*session.notes, *cell_notes, *result.notes]
    return result


# A hidden check's failure, told without anything computed from its cases (see notebook_verdicts).
HIDDEN_REASONS = {
    "not_defined": "the function is not defined",
    "not_a_function": "the name does not hold a function",
    "not_implemented": "not implemented yet",
    "reference_called": "your function calls lablib's reference; implement it yourself (numpy only)",
    "copied_reference": "your function runs a copy of lablib's reference: no points",
    "timeout": "your function did not finish in time (an endless loop?) — grading flag timeout",
    "sandbox_died": "your code stopped the grader's run (it exited or crashed) — grading flag sandbox_died",
    "protocol_error": "your code broke the grader's channel — grading flag protocol_error",
    "too_many_restarts": "your code stopped the grader's run too often — grading flag too_many_restarts",
}


def _hidden_text(exercise: str, failure) -> str:
    """The text of a failed hidden check: the case's number, the catalogued mistakes named, a fixed reason."""
    case, reason = getattr(failure, "case", None), getattr(failure, "reason", None)
    head = f"{exercise} — hidden case {case} failed" if isinstance(case, int) else f"{exercise}: the hidden check failed"
    lines = [head + (f": {HIDDEN_REASONS[reason]}" if reason in HIDDEN_REASONS else " (its values are not shown)")]
    for name, hint, label in getattr(failure, "mistakes", ()):
        lines.append(f"  This matches a known mistake — {name}: {hint}" + (f" ({label})" if label else ""))
    return "\n".join(lines)


def seed_digest(seed: int) -> str:
    """A short digest naming one student's hidden cases of one exercise (which cases, not what they are)."""
    import hashlib

    return hashlib.sha256(f"lablib hidden cases {seed}".encode()).hexdigest()[:16]


class _Failed(Exception):
    def __init__(self, message: str, reason: str | None):
        super().__init__(message)
        self.case, self.mistakes, self.reason = None, (), reason


def _one_check(session: Session, exercise: str, name: str, hidden: bool, seed: int) -> tuple[bool, str]:
    try:
        text = _run_one_check(session, exercise, name, hidden, seed)
        # a hidden pass says no more (its notes would quote what the function printed or warned on hidden cases)
        return True, f"✓ {exercise}: the hidden checks passed" if hidden else text
    except (CheckFailure, _Failed) as failure:
        flag = getattr(failure, "flag", None)
        if flag and not getattr(failure, "reason", None):
            failure.reason = flag
        return False, _hidden_text(exercise, failure) if hidden else str(failure)


def _run_one_check(session: Session, exercise: str, name: str, hidden: bool, seed: int) -> str:
    try:
        found = session.lookup(name)
    except SandboxFailure as failure:
        raise _Failed(f"{exercise}: your code could not be run by the grader ({failure}) — grading flag "
                      f"{failure.flag}", failure.flag) from None
    if found is None:
        raise _Failed(f"{exercise}: `{name}` is not defined — write it in the exercise cell and run that cell",
                      "not_defined")
    if isinstance(found, tuple):
        _, type_name, text = found
        raise _Failed(f"{exercise}: expected your function `{name}`, got {type_name} {text} — did you overwrite "
                      f"`{name}` with a value?", "not_a_function")
    try:
        return run_check(exercise, found, hidden=hidden, seed=seed)
    except SandboxFailure as failure:
        raise _Failed(f"{exercise}: {failure} — grading flag {failure.flag}", failure.flag) from None
    finally:
        if session.last_copied is not None:
            session.copied.setdefault(exercise, session.last_copied)
            session.last_copied = None
            if "copied_reference" not in session.flags:
                session.flags.append("copied_reference")


def _quiz_verdicts(session: Session, quiz_tests: dict) -> dict:
    """{cell index: CellVerdict} of the quiz cells: the answers, plain data read out of the sandbox, marked here."""
    verdicts = {}
    for index, checks in quiz_tests.items():
        lines, passed = [], True
        marked = any(hidden for _, _, hidden in checks)
        for question, name, hidden in checks:
            ok, text = _one_quiz_check(session, question, name, hidden)
            passed &= ok
            if hidden or not ok or not marked:  # the mark says it all; a form check only when it fails
                lines.append(text)
            if not ok:
                break
        verdicts[index] = CellVerdict(passed, "\n".join(lines), kernel_blind=True)
    return verdicts


def _one_quiz_check(session: Session, question_ref: str, name: str, hidden: bool) -> tuple[bool, str]:
    """A quiz cell's line: the form of the answer (public) or its mark against the key (hidden). The value comes
    out of the sandbox as plain data and is compared here, with the key read by the grader (grading/quizzes/)."""
    lab, _, qid = question_ref.partition(":")
    try:  # the course's own files: a missing key is the instructor's error, reported, never a point given
        question = quizzes.load(lab).question(qid)
    except ValueError as exc:
        question, problem = None, str(exc)
    else:
        problem = f"no question {qid} in grading/quizzes/{lab}.py (re-run `python -m grading.pipeline quiz`)"
    if question is None:
        if "quiz_key_missing" not in session.flags:
            session.flags.append("quiz_key_missing")
        return False, f"{qid}: the grader has no key for this question ({problem}) — grading flag quiz_key_missing"
    choices = question.letters if isinstance(question, quizzes.Choice) else None
    try:
        found = session.answer(name)
    except SandboxFailure as failure:
        return False, f"{qid}: your answer could not be read by the grader ({failure}) — grading flag {failure.flag}"
    if found is None:
        return False, f"{qid}: `{name}` is not defined — write your answer in its cell and run it"
    kind, value = found
    if kind == "other":
        wanted = "one letter as a string" if choices else "a number"
        return False, f"{qid}: expected {wanted}, got a value of type {value} — no points"
    if hidden:
        return quizzes.mark(question, value)
    problem = answer_problem(value, choices=choices, number=choices is None)
    if problem is not None:
        return False, f"{qid}: {problem} — no points"
    return True, f"✓ {qid}: answered — marked below"


PENDING = "lablib_pending_verdicts"  # the key of StartTrustedVerdict's Future in nbconvert's resources


class TrustedVerdict(NbGraderPreprocessor):
    """Autograde: each test cell's outputs become the grader's own verdict (see the module docstring)."""

    hidden_seed = Unicode(help="The secret seed of the hidden cases (never given to student code).").tag(config=True)
    call_timeout = Float(10.0, help="Seconds one call of a student's function may take.").tag(config=True)
    budget = Float(120.0, help="Seconds of trusted checking per notebook.").tag(config=True)
    cell_timeout = Float(60.0, help="Seconds one setup or answer cell may run in the grader's own run (a cell "
                         "over it is left out).").tag(config=True)
    hide = List(Unicode(), help="Paths the sandbox must not see (the course directory).").tag(config=True)

    def _seeds(self, nb, resources):
        """exercise -> the seed of this submission's hidden cases (secret.student_seed: per student or pair)."""
        from .intake import INTAKE_KEY
        from .secret import grading_id, student_seed

        if not self.hidden_seed.strip().isdigit():
            raise ValueError("c.TrustedVerdict.hidden_seed must be the course's secret seed (a non-negative integer; "
                             "grading/nbgrader_config.py sets it from grading/.secrets/hidden_seed)")
        info = (resources or {}).get("nbgrader") or {}
        intake = nb.metadata.get(INTAKE_KEY) or {}
        student = str(info.get("student") or intake.get("student") or "")
        lab = str(info.get("assignment") or intake.get("lab") or "")
        who = grading_id(student, str(intake.get("partner") or ""))
        secret = self.hidden_seed.strip()
        return lambda exercise: student_seed(secret, lab, who, exercise)

    def _verdicts(self, nb, resources=None) -> tuple[NotebookVerdicts, float]:
        started = time.monotonic()
        verdicts = notebook_verdicts(nb, seed=self._seeds(nb, resources), sandbox=Sandbox(parent=self),
                                     hide=self.hide, call_timeout=self.call_timeout, budget=self.budget,
                                     cell_timeout=self.cell_timeout)
        return verdicts, time.monotonic() - started

    def _wait(self, pending: Future, nb) -> tuple[NotebookVerdicts, float]:
        """The verdicts, or every check cell failed with a flag if computing them failed or never ended (the
        thread's own deadlines end it long before this wait's)."""
        limit = self.budget + self.cell_timeout + 2 * self.call_timeout + 60
        try:
            return pending.result(timeout=limit)
        except Exception as exc:  # noqa: BLE001 — one submission's failure never stops the grading of the others
            flag = "verdict_timeout" if isinstance(exc, TimeoutError) else "verdict_error"
            failed = NotebookVerdicts(flags=[flag], notes=[f"the grader's own check of this notebook failed "
                                                           f"({flag}): no check cell earns points"])
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
                    failed.cells[index] = CellVerdict(False, f"not checked — grading flag {flag}")
            return failed, float(limit)

    def preprocess(self, nb, resources):
        pending: Future | None = resources.pop(PENDING, None)
        if pending is None:
            pending = Future()
            try:
                pending.set_result(self._verdicts(nb, resources))
            except Exception as exc:  # noqa: BLE001
                pending.set_exception(exc)
        verdicts, seconds = self._wait(pending, nb)
        for flag in verdicts.flags:
            record(nb, flag, f"grader's check: {flag.replace('_', ' ')}")
        for note in verdicts.notes:
            record(nb, "verdict_note", note)
        for index, verdict in verdicts.cells.items():
            cell = nb.cells[index]
            kernel_passed = not any(o.output_type == "error" for o in cell.outputs)
            if verdict.kernel_blind:
                pass
            elif kernel_passed and not verdict.passed:
                record(nb, "unconfirmed_pass", f"{_label(cell, index)} passed in the notebook's kernel but not in "
                                               "the grader's own check: no points")
            elif verdict.passed and not kernel_passed:
                record(nb, "kernel_disagrees", f"{_label(cell, index)} failed in the notebook's kernel but passed "
                                               "the grader's own check")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=verdict.text + "\n")] \
                if verdict.passed else [nbformat.v4.new_output(
                    "error", ename="CheckFailure", evalue=verdict.text, traceback=verdict.text.split("\n"))]
        grading_metadata(nb)["verdict_seconds"] = round(seconds, 2)
        if self.hidden_seed.strip().isdigit():  # which hidden cases this submission got, for staff (a digest)
            seed_of = self._seeds(nb, resources)
            grading_metadata(nb)["hidden_cases"] = {
                exercise: seed_digest(seed_of(exercise)) for exercise in sorted(
                    {e for index in verdicts.cells for e, _, _ in checks_in(nb.cells[index].source) or ()})}
        return nb, resources


class StartTrustedVerdict(TrustedVerdict):
    """Placed before GradingExecute: computes the verdicts in a thread while the kernel runs the notebook (same
    configuration as TrustedVerdict, which waits for them). Only the cells' sources matter, and they are copied
    first; the thread owns its sandbox and closes it whatever happens."""

    def preprocess(self, nb, resources):
        self._seeds(nb, resources)  # a configuration error stops the grading here, loudly, not in the thread
        pending, work = Future(), (copy.deepcopy(nb), copy.deepcopy(resources.get("nbgrader") or {}))

        def compute():
            try:
                pending.set_result(self._verdicts(work[0], {"nbgrader": work[1]}))
            except BaseException as exc:  # noqa: BLE001 — handed to TrustedVerdict, which flags it
                pending.set_exception(exc)

        # a daemon thread: should it ever outlive TrustedVerdict's wait, it cannot keep the grader from exiting
        threading.Thread(target=compute, name="trusted-verdict", daemon=True).start()
        resources[PENDING] = pending
        return nb, resources
