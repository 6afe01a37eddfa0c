"""The grader survives any submission (issue 11): the verdict harness's channel, its restarts, its disk, the
copies of a reference, and the hidden cases (per student, never in a public message).

Each test starts a real sandboxed harness (grading/pipeline/verdict.py's Session) with cells written as an
attacker would, and asserts the bound: the grader's wait ends by its own deadline whatever the student's process
sends or leaves unread, what it reads is bounded, and honest functions beside the attack still work. Deadlines
here are generous (a loaded machine passes); how long each bound takes is measured in bench/attack_cost.py.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grading.pipeline.sandbox import Sandbox, available
from grading.pipeline.secret import grading_id, student_seed
from grading.pipeline.verdict import Handle, SandboxFailure, Session, notebook_verdicts
from lablib.grading import EXERCISES, CheckFailure
from lablib.grading.engine import run_check
from lablib.grading.tripwire import fingerprint, fingerprints, resolve

needs_sandbox = pytest.mark.skipif(available() is not None, reason=f"no sandbox here: {available()}")
SQUARE = "lablib.landscapes.square"

# Helpers the attacking cells use: the harness's own output descriptor is its second argument.
CHANNEL = '''
import json, os, struct, sys, time
import numpy as np
from lablib.grading import wire
OUT = int(sys.argv[-1])
def forge(message):
    data = json.dumps(message).encode()
    os.write(OUT, struct.pack(">Q", len(data)) + data)
'''


def session(*cells, **kwargs) -> Session:
    kwargs.setdefault("call_timeout", 8)
    kwargs.setdefault("start_timeout", 20)
    return Session([{"label": f"cell {i}", "source": source, "guarded": guarded}
                    for i, (source, guarded) in enumerate(cells)], sandbox=Sandbox(), **kwargs)


def elapsed(fn, *args):
    start = time.monotonic()
    try:
        return fn(*args), time.monotonic() - start
    except (SandboxFailure, CheckFailure) as exc:
        return exc, time.monotonic() - start


# ---------------------------------------------------------------------------------------------------------
# Breach 6: a copy of the reference earns nothing, however it was made

COPIES_SETUP = '''
import functools, inspect, types
import numpy as np
import lablib.landscapes as L
from lablib._validate import as_float_array
alias = L.square                                         # the object: guarded while the check runs
code = L.square.__code__                                 # its code, taken while no guard is active
copy_before_guard = types.FunctionType(code, L.__dict__, "copy_before_guard")
namespace = {"__name__": "lablib.landscapes"}
exec(inspect.getsource(L), namespace)                    # the module's source, run again
exec_copy = namespace["square"]
'''
COPIES = '''
def copied(x):
    return copy_before_guard(x)
def exec_of_source(x):
    return exec_copy(x)
def aliased(x):
    return alias(x)
def retyped(value):                                      # the reference typed in again, other names
    value = as_float_array(value, "value must be numbers")
    return value**2 if value.ndim else float(value**2)
def make_closure():
    g = copy_before_guard
    def inner(x):
        return g(x)
    return inner
closure = make_closure()
@functools.wraps(copy_before_guard)
def wrapped(x):
    return copy_before_guard(x)
function_type = types.FunctionType(code, L.__dict__)     # built from the saved code in the answer cell
def tracing_off(x):                                      # switches the watch off, then computes honestly
    import sys
    sys.settrace(None)
    return x * x
def guard_undone(x):                                     # gives the guarded function its code back
    L.square.__code__ = code
    return L.square(x)
def honest(x):
    return x * x
'''


@needs_sandbox
def test_every_copy_of_the_reference_fails_its_exercise_and_honest_code_passes():
    s = session((COPIES_SETUP, []), (COPIES, [SQUARE]))
    try:
        outcomes = {}
        for name in ("copied", "exec_of_source", "retyped", "closure", "wrapped", "function_type",
                     "tracing_off", "guard_undone", "aliased", "honest"):
            try:
                outcomes[name] = run_check("f", s.lookup(name))
            except CheckFailure as failure:
                outcomes[name] = failure.reason
            s.last_copied = None
        assert s.first_errors == [None, None]
        assert outcomes.pop("aliased") == "reference_called"
        assert outcomes.pop("honest").startswith("✓ f:")
        assert outcomes == dict.fromkeys(outcomes, "copied_reference")
    finally:
        s.close()


def test_fingerprints_ignore_names_docstrings_and_messages_but_not_the_computation():
    ns: dict = {}
    exec("from lablib._validate import as_float_array\n"
         "def a(x):\n    '''doc'''\n    x = as_float_array(x, 'x')\n    return x**2 if x.ndim else float(x**2)\n"
         "def b(v):\n    v = as_float_array(v, 'other message')\n    return v**2 if v.ndim else float(v**2)\n"
         "def c(x):\n    x = as_float_array(x, 'x')\n    return x**3 if x.ndim else float(x**3)\n", ns)
    reference = fingerprint(resolve(SQUARE)[SQUARE].__code__)
    assert fingerprint(ns["a"].__code__) == fingerprint(ns["b"].__code__) == reference
    assert fingerprint(ns["c"].__code__) != reference
    assert set(fingerprints(resolve(SQUARE)).values()) == {SQUARE}


# ---------------------------------------------------------------------------------------------------------
# Breach 4: hidden cases per student, never in a public message

def test_hidden_cases_are_per_student_and_per_pair():
    seeds = {who: student_seed("123", "lab01", who, "f") for who in ("alice", "bob", grading_id("alice", "bob"))}
    assert len(set(seeds.values())) == 3 and all(0 <= s < 2**63 for s in seeds.values())
    assert grading_id("alice", "bob") == grading_id("bob", "alice") == "alice+bob"
    assert grading_id("alice", "../x") == grading_id("alice", "alice") == "alice"
    assert student_seed("123", "lab01", "alice", "f") == seeds["alice"]            # reproducible
    assert student_seed("124", "lab01", "alice", "f") != seeds["alice"]            # secret
    assert student_seed("123", "lab01", "alice", "df") != seeds["alice"]           # per exercise


LEAKER = '''
import numpy as np
SEEN = []
def f(x):
    SEEN.append(repr(np.asarray(x).tolist()))
    return np.asarray(x, dtype=float) ** 2 if np.ndim(x) else float(x) ** 2
def df(x):
    raise ValueError("LEAK " + " ".join(SEEN[-3:]))
'''


def _leak_notebook():
    """f's hidden check (first), then df's public check (after): df raises with f's inputs."""
    nb = nbformat.v4.new_notebook()

    def cell(source, **meta):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = {"grade_id": meta.pop("gid"), "schema_version": 3, **meta}
        return c

    nb.cells = [cell(LEAKER, gid="answers", solution=True, grade=False, locked=False),
                cell('check("f", f, hidden=True)', gid="test_f_hidden", grade=True, solution=False, locked=True,
                     points=1),
                cell('check("df", df)', gid="test_df", grade=True, solution=False, locked=True, points=1),
                cell('check("df", df, hidden=True)', gid="test_df_hidden", grade=True, solution=False,
                     locked=True, points=1)]
    return nb


@needs_sandbox
def test_no_public_message_is_written_after_a_hidden_case_was_seen():
    nb = _leak_notebook()
    verdicts = notebook_verdicts(nb, seed=lambda exercise: student_seed("99", "lab01", "eve", exercise),
                                 sandbox=Sandbox(), call_timeout=8)
    hidden_inputs = EXERCISES["f"].cases(True, student_seed("99", "lab01", "eve", "f"))
    f_hidden, df_public, df_hidden = (verdicts.cells[i] for i in (1, 2, 3))
    assert f_hidden.passed and not df_public.passed and not df_hidden.passed
    assert f_hidden.text == "✓ f: the hidden checks passed"         # no note of what f printed or warned
    assert "LEAK" in df_public.text and "[" not in df_public.text.split("LEAK", 1)[1].split("\n")[0]  # nothing seen
    assert "LEAK" not in df_hidden.text and df_hidden.text.startswith("df — hidden case 1 failed")
    shown = [repr(np.asarray(case.x, dtype=float).tolist()) for case in hidden_inputs]
    for text in [v.text for v in verdicts.cells.values()] + verdicts.notes:
        assert not any(value in text for value in shown), text
    # the control: in that order by hand, df's public message does carry f's hidden inputs (what the order prevents)
    s = session((LEAKER, []))
    try:
        run_check("f", s.lookup("f"), hidden=True, seed=student_seed("99", "lab01", "eve", "f"))
        with pytest.raises(CheckFailure) as leaked:
            run_check("df", s.lookup("df"))
        assert any(value in str(leaked.value) for value in shown[-3:])
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------------------
# The channel: deadlines the student cannot extend, writes that cannot block, bounded reads

@needs_sandbox
def test_forged_cell_frames_cannot_extend_the_start_and_the_cell_is_left_out():
    forger = CHANNEL + "for _ in range(400):\n    forge({'op': 'cell', 'index': 0})\n    time.sleep(0.05)\n"
    s = session(("def f(x):\n    return x * x\n", []), (forger, []))
    try:
        _, seconds = elapsed(s.start)
        assert s.skip == {1} and "protocol_error" in s.notes[0] and seconds < 20   # 400 frames would be 20 s
        assert s.lookup("f")(3.0) == 9.0
    finally:
        s.close()


@needs_sandbox
def test_a_reply_the_sandbox_never_reads_cannot_block_the_grader():
    unread = CHANNEL + '''
def f(callback):
    ident = next(c.cell_contents for c in callback.__closure__ if isinstance(c.cell_contents, int))
    forge({"op": "callback", "id": ident, "args": wire.encode([np.zeros(1 << 20)]), "kwargs": {"dict": []}})
    time.sleep(600)
'''
    s = session((unread, []), call_timeout=3)
    try:
        result, seconds = elapsed(s.lookup("f"), lambda a: a)   # the reply (8 MB) fills the pipe: nobody reads
        assert isinstance(result, CheckFailure) and "timeout" in s.flags and seconds < 30
    finally:
        s.close()


@needs_sandbox
def test_callback_replies_are_bounded_by_the_request():
    asks = '''
import numpy as np
def grow(make):
    try:
        make(50_000_000)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
def outer(add):
    try:
        add(np.ones((20000, 1)), np.ones((1, 20000)))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
def fair(add):
    return float(add(np.ones(1000), np.ones(1000)).sum())
'''
    s = session((asks, []))
    try:
        grown, seconds = elapsed(s.lookup("grow"), lambda n: np.zeros(n))
        assert grown.startswith("ValueError") and "far larger than the request" in grown, grown
        computed = []
        outer = s.lookup("outer")(lambda a, b: computed.append(1) or a + b)
        assert outer.startswith("ValueError") and "broadcast" in outer and computed == [], outer
        assert s.lookup("fair")(lambda a, b: a + b) == 2000.0
    finally:
        s.close()


@needs_sandbox
def test_oversized_frames_and_huge_reprs_are_refused_or_cut():
    forger = CHANNEL + '''
def huge_header(x):
    os.write(OUT, struct.pack(">Q", 1 << 40))
    time.sleep(600)
def many_handles(x):
    forge({"op": "result", "value": [{"ref": i, "type": "T" * 1000, "repr": "r" * 5000} for i in range(20_000)],
           "error": None, "reference": None, "out": "", "err": "", "warnings": [], "mutated": {}})
    time.sleep(600)
def few_handles(x):
    forge({"op": "result", "value": [{"ref": 1, "type": "T" * 1000, "repr": "r" * 5_000_000}], "error": None,
           "reference": None, "out": "", "err": "", "warnings": [], "mutated": {}})
    time.sleep(600)
'''
    s = session((forger, []))
    try:
        result, seconds = elapsed(s.lookup("huge_header"), 1.0)
        assert isinstance(result, CheckFailure) and "protocol_error" in s.flags and seconds < 8
        result = s.lookup("few_handles")(1.0)
        assert isinstance(result[0], Handle) and len(result[0].text) <= 200 and len(result[0].type_name) <= 100
        s.close()   # few_handles still sleeps: the next lookup starts a new process
        result, _ = elapsed(s.lookup("many_handles"), 1.0)
        assert isinstance(result, CheckFailure) and "more than 10000 objects" not in str(result)  # no student text
        assert len(s.handles) == 0                        # the process was dropped, and its handles with it
    finally:
        s.close()


@needs_sandbox
def test_cells_that_exit_cannot_make_the_grader_replay_them_again_and_again():
    slow_exit = "import os, time\ntime.sleep(0.5)\nos._exit(0)\n"
    s = session(*[(slow_exit, [])] * 12, ("def f(x):\n    return x * x\n", []))
    try:
        result, seconds = elapsed(s.start)
        assert isinstance(result, SandboxFailure) and result.flag == "too_many_restarts"
        assert s.generation == 1 + s.max_restarts and len(s.skip) == 1 + s.max_restarts
        assert seconds < 60    # unbounded, 12 exits replay 78 half-second cells (39 s) and then some
    finally:
        s.close()


@needs_sandbox
def test_the_work_directory_has_a_disk_quota_and_nothing_reaches_the_host():
    writer = '''
import os
written = 0
try:
    for i in range(40):
        with open(f"blob{i}", "wb") as fh:
            fh.write(b"x" * (32 << 20))
        written += 32
except OSError as exc:
    error = type(exc).__name__ + str(exc.errno)
def report():
    return written, error, sorted(os.listdir("."))[:3]
'''
    sandbox = Sandbox(workdir_mb=128)
    s = Session([{"label": "writer", "source": writer, "guarded": []}], sandbox=sandbox, call_timeout=8,
                start_timeout=30)
    try:
        written, error, _ = s.lookup("report")()
        assert written < 128 and error == "OSError28", (written, error)      # ENOSPC at the quota
        workdir = Path(s.workdir)   # a tmpfs (root: the grader sees it) or the sandbox's private one
        assert sum(p.stat().st_size for p in workdir.iterdir() if p.is_file()) <= 128 << 20
    finally:
        s.close()
    assert not workdir.exists() and not os.path.ismount(workdir)
