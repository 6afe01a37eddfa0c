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
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
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
        self.ref, self.type_name, self.text = ref["ref"], str(ref.get("type", "object")), str(ref.get("repr", ""))

    def __repr__(self):
        return f"<{self.type_name} object in the student's code: {self.text[:80]}>"


def _exception(error: dict) -> BaseException:
    """The student's exception, rebuilt as the builtin class of that name when there is one (so that, e.g.,
    NotImplementedError still means 'not implemented yet'), else as a new class with the student's name."""
    name = str(error.get("type", "Exception"))
    kind = getattr(builtins, name, None)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        kind = type(name if name.isidentifier() else "StudentError", (Exception,), {})
    try:
        return kind(str(error.get("message", "")))
    except Exception:  # an exception class with another constructor
        return type(name, (Exception,), {})(str(error.get("message", "")))


class Session:
    """One sandboxed harness running a notebook's setup and answer cells; restarted after a failure."""

    def __init__(self, cells: list[dict], *, sandbox: Sandbox, hide=(), call_timeout: float = 10.0,
                 start_timeout: float = 60.0):
        self.cells, self.sandbox, self.hide = cells, sandbox, list(hide)
        self.call_timeout, self.start_timeout = call_timeout, start_timeout
        self.proc = None
        self.generation = 0
        self.skip: set[int] = set()        # cells that killed or hung the sandbox: not run again
        self.cell_errors: list = []
        self.flags: list[str] = []
        self.notes: list[str] = []
        self.callbacks: dict[int, object] = {}
        self.handles: dict[int, Handle] = {}

    # -- process
    def _spawn(self) -> None:
        self.workdir = self.sandbox.workdir()
        to_harness, self.fd_out = os.pipe()
        self.fd_in, from_harness = os.pipe()
        cmd = [sys.executable, "-m", "lablib.grading.harness", str(to_harness), str(from_harness)]
        if self.sandbox.enabled:
            cmd = self.sandbox.command(cmd, self.workdir, hide=self.hide)
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, pass_fds=(to_harness, from_harness), env=sandbox_env(self.workdir),
                                     cwd=self.workdir, start_new_session=True, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        os.close(to_harness)
        os.close(from_harness)
        self.generation += 1
        self.handles.clear()

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
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.proc = None

    def _fail(self, flag: str, message: str) -> SandboxFailure:
        self.close()
        if flag not in self.flags:
            self.flags.append(flag)
        return SandboxFailure(flag, message)

    def _send(self, message: dict) -> None:
        try:
            wire.send(self.fd_out, message)
        except (BrokenPipeError, OSError):
            raise self._fail("sandbox_died", "the student's code stopped (it exited or was killed)") from None

    def _receive(self, deadline: float) -> dict:
        def wait():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd_in], [], [], remaining)[0]:
                raise TimeoutError

        try:
            return wire.receive(self.fd_in, wait)
        except TimeoutError:
            raise self._fail("timeout", "no answer") from None
        except EOFError:
            raise self._fail("sandbox_died", "the student's code stopped (it exited, crashed or ran out of "
                                             "memory or CPU time)") from None
        except wire.WireError as exc:
            raise self._fail("protocol_error", f"the student's process sent garbage ({exc})") from None

    def start(self) -> None:
        """Run the cells (again); a cell that kills or hangs the sandbox is skipped on the next start."""
        for _attempt in range(len(self.cells) + 1):
            self._spawn()
            cells = [c if i not in self.skip else {**c, "source": "pass"} for i, c in enumerate(self.cells)]
            self._send({"op": "init", "cells": cells})
            deadline, current = time.monotonic() + self.start_timeout, None
            try:
                while True:
                    reply = self._receive(deadline)
                    if reply.get("op") == "cell":
                        current = reply.get("index")
                        deadline = time.monotonic() + self.start_timeout
                    elif reply.get("op") == "ready":
                        self.cell_errors = reply.get("errors", [])
                        return
                    else:
                        raise self._fail("protocol_error", "unexpected message while running the cells")
            except SandboxFailure as failure:
                if not isinstance(current, int) or current in self.skip or not 0 <= current < len(self.cells):
                    raise
                self.skip.add(current)
                self.notes.append(f"{self.cells[current]['label']} stopped the grader's run of your code "
                                  f"({failure.flag}); it was left out")
        raise self._fail("sandbox_died", "the cells could not be run")

    def ensure(self) -> None:
        if self.proc is None:
            self.start()

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
            return self.handles.setdefault(ref["ref"], Handle(ref))

        return wire.decode(data, resolve)

    # -- requests
    def lookup(self, name: str):
        """The student's global ``name``: a RemoteFunction, ('value', type, repr) or None if undefined."""
        self.ensure()
        self._send({"op": "lookup", "name": name})
        reply = self._receive(time.monotonic() + self.call_timeout)
        if reply.get("kind") == "function":
            return RemoteFunction(self, name, reply["ref"], reply.get("params"))
        if reply.get("kind") == "value":
            return ("value", str(reply.get("type")), str(reply.get("repr")))
        return None

    def answer(self, name: str):
        """The student's global ``name`` as a quiz answer: ('answer', plain value), ('other', type name) when it is
        not plain data (the harness sends only exact str/int/float), or None if undefined."""
        self.ensure()
        self._send({"op": "answer", "name": name})
        reply = self._receive(time.monotonic() + self.call_timeout)
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
        self._send({"op": "call", "target": {"ref": target.ref, "side": "sandbox"}, "args": self.encode(list(args)),
                    "kwargs": self.encode(dict(kwargs)), "limit": limit, "guarded": list(guarded)})
        deadline = time.monotonic() + self.call_timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("op") == "callback":
                self._answer_callback(reply)
                continue
            if reply.get("op") != "result":
                raise self._fail("protocol_error", "unexpected message during a call")
            break
        try:
            outcome = Outcome(out=str(reply.get("out", "")), err=str(reply.get("err", "")),
                              warnings=[str(w) for w in reply.get("warnings", [])][:20],
                              reference=reply.get("reference") if isinstance(reply.get("reference"), str) else None)
            if reply.get("error"):
                outcome.error = _exception(reply["error"])
                outcome.traceback = str(reply["error"].get("traceback", ""))
            else:
                outcome.result = self.decode(reply.get("value"))
                outcome.aliases = [[str(path), key] for path, key in (reply.get("aliases") or [])[:100]
                                   if isinstance(key, (int, str))]
            mutated = reply.get("mutated") or {}
            for index, value in mutated.get("args", []):
                if isinstance(index, int) and 0 <= index < len(args):
                    _update(args[index], self.decode(value))
            for key, value in mutated.get("kwargs", []):
                if key in kwargs:
                    _update(kwargs[key], self.decode(value))
        except (wire.WireError, TypeError, ValueError, KeyError) as exc:
            raise self._fail("protocol_error", f"the student's process sent garbage ({exc})") from None
        return outcome

    def _answer_callback(self, request: dict) -> None:
        fn = self.callbacks.get(request.get("id"))
        try:
            args, kwargs = self.decode(request.get("args")), self.decode(request.get("kwargs"))
            if fn is None or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise TypeError("bad callback")
            with np.errstate(all="ignore"), warnings.catch_warnings():  # e.g. overflow on a diverging run
                warnings.simplefilter("ignore")
                value = fn(*args, **kwargs)
            reply = {"op": "return", "value": self.encode(value)}
        except Exception as exc:  # the grader's function refused the student's arguments: their error
            reply = {"op": "raise", "type": type(exc).__name__, "message": str(exc)[:500]}
        self._send(reply)


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
            raise CheckFailure(f"{self.__name__}: {why} — grading flag {failure.flag}") from None

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
    kernel_blind: bool = False  # a quiz cell: the student's kernel has no key, so it cannot agree or disagree


@dataclass
class NotebookVerdicts:
    cells: dict = field(default_factory=dict)   # index of a test cell -> CellVerdict
    flags: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def checks_in(source: str) -> list[tuple[str, str, bool]] | None:
    """The ``check("exercise", name, hidden=...)`` calls of a test cell, or None if it holds anything else
    (then it cannot be verified by the grader and its kernel result stands)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
                and len(call.args) == 2 and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str) and isinstance(call.args[1], ast.Name)):
            return None
        hidden = False
        for kw in call.keywords:
            if kw.arg != "hidden" or not isinstance(kw.value, ast.Constant):
                return None
            hidden = bool(kw.value.value)
        found.append((call.args[0].value, call.args[1].id, hidden))
    return found or None


def quiz_checks_in(source: str) -> list[tuple[str, str, bool]] | None:
    """The ``check_quiz("lab01:q1", q1, choices=... | number=True | hidden=True)`` calls of a quiz test cell as
    (question, variable, hidden), or None if it holds anything else."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check_quiz"
                and len(call.args) == 2 and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str) and ":" in call.args[0].value
                and isinstance(call.args[1], ast.Name)):
            return None
        hidden = False
        for kw in call.keywords:
            if kw.arg not in ("choices", "number", "hidden") or not isinstance(kw.value, ast.Constant):
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


def notebook_verdicts(nb, *, seed: int, sandbox: Sandbox, hide=(), call_timeout: float = 10.0,
                      budget: float = 120.0) -> NotebookVerdicts:
    """The grader's verdict on each test cell of ``nb`` (the rebuilt notebook: the lab's own cells and the
    student's answers)."""
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
    result = NotebookVerdicts()
    session = Session(cells, sandbox=sandbox, hide=hide, call_timeout=call_timeout)
    started = time.monotonic()
    try:
        for index, checks in tests.items():
            if checks is None:
                result.notes.append(f"{_label(nb.cells[index], index)} is not a plain check cell: its kernel "
                                    "result stands")
                continue
            lines, passed = [], True
            for exercise, name, hidden in checks:
                if time.monotonic() - started > budget:
                    lines.append(f"{exercise}: not checked — the grading time budget ({budget:g} s) was used up")
                    passed = False
                    if "budget_exceeded" not in session.flags:
                        session.flags.append("budget_exceeded")
                    continue
                ok, text = _one_check(session, exercise, name, hidden, seed)
                passed &= ok
                lines.append(text)
                if not ok:
                    break
            result.cells[index] = CellVerdict(passed, "\n".join(lines))
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
            result.cells[index] = CellVerdict(passed, "\n".join(lines), kernel_blind=True)
    finally:
        session.close()
    for cell, error in zip(cells, session.cell_errors):
        if error:
            result.notes.append(f"in the grader's run of your code, {cell['label']} raised {error.get('type')}: "
                                f"{str(error.get('message'))[:200]}")
    result.flags, result.notes = session.flags, [*session.notes, *result.notes]
    return result


def _one_check(session: Session, exercise: str, name: str, hidden: bool, seed: int) -> tuple[bool, str]:
    try:
        found = session.lookup(name)
    except SandboxFailure as failure:
        return False, f"{exercise}: your code could not be run by the grader ({failure}) — grading flag {failure.flag}"
    if found is None:
        return False, f"{exercise}: `{name}` is not defined — write it in the exercise cell and run that cell"
    if isinstance(found, tuple):
        _, type_name, text = found
        return False, (f"{exercise}: expected your function `{name}`, got {type_name} {text} — did you overwrite "
                       f"`{name}` with a value?")
    try:
        return True, run_check(exercise, found, hidden=hidden, seed=seed)
    except CheckFailure as failure:
        return False, str(failure)
    except SandboxFailure as failure:
        return False, f"{exercise}: {failure} — grading flag {failure.flag}"


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
    hide = List(Unicode(), help="Paths the sandbox must not see (the course directory).").tag(config=True)

    def _verdicts(self, nb) -> tuple[NotebookVerdicts, float]:
        if not self.hidden_seed.strip().isdigit():
            raise ValueError("c.TrustedVerdict.hidden_seed must be the course's secret seed (a non-negative integer; "
                             "grading/nbgrader_config.py sets it from grading/.secrets/hidden_seed)")
        started = time.monotonic()
        verdicts = notebook_verdicts(nb, seed=int(self.hidden_seed), sandbox=Sandbox(parent=self), hide=self.hide,
                                     call_timeout=self.call_timeout, budget=self.budget)
        return verdicts, time.monotonic() - started

    def preprocess(self, nb, resources):
        pending: Future | None = resources.pop(PENDING, None)
        verdicts, seconds = pending.result() if pending is not None else self._verdicts(nb)
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
        return nb, resources


class StartTrustedVerdict(TrustedVerdict):
    """Placed before GradingExecute: computes the verdicts in a thread while the kernel runs the notebook (same
    configuration as TrustedVerdict, which waits for them). Only the cells' sources matter, and they are copied
    first; the thread owns its sandbox and closes it whatever happens."""

    def preprocess(self, nb, resources):
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trusted-verdict")
        resources[PENDING] = pool.submit(self._verdicts, copy.deepcopy(nb))
        pool.shutdown(wait=False)  # the thread ends with its one task
        return nb, resources
