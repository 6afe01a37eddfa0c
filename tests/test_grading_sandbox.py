"""The sandbox (grading/pipeline/sandbox.py), the wire format (lablib/grading/wire.py) and the trusted verdict's
remote calls (grading/pipeline/verdict.py + lablib/grading/harness.py)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grading.pipeline.sandbox import REPO, Sandbox, available, sandbox_env
from grading.pipeline.verdict import Handle, Session, checks_in, kernel_blind
from lablib.grading import CheckFailure, wire
from lablib.grading.engine import run_check

needs_sandbox = pytest.mark.skipif(available() is not None, reason=f"no sandbox here: {available()}")


# -- wire ---------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_, np.complex128]),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
def test_arrays_cross_unchanged(a):
    b = wire.decode(json.loads(json.dumps(wire.encode(a))))
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(b, a)


def test_containers_scalars_and_generators_cross_unchanged():
    rng = np.random.default_rng(7)
    rng.random(3)
    value = {"t": (1, 2.5, None, True), "l": [np.float64(0.5), np.int32(3), "s", b"\x00"], 3: float("nan"),
             "g": rng}
    back = wire.decode(json.loads(json.dumps(wire.encode(value))))
    assert back["t"] == (1, 2.5, None, True) and type(back["l"][0]) is np.float64 and type(back["l"][1]) is np.int32
    assert back["l"][2:] == ["s", b"\x00"] and np.isnan(back[3])
    assert back["g"].random() == rng.random()  # same state, same next draw


def test_only_plain_data_crosses():
    with pytest.raises(wire.WireError, match="cannot send a function"):
        wire.encode(lambda x: x)
    with pytest.raises(wire.WireError, match="cannot send"):
        wire.encode(np.array([object()], dtype=object))
    with pytest.raises(wire.WireError, match="refusing array dtype"):
        wire.decode({"nd": ["|O", [1], "AAAAAAAAAAA="]})
    with pytest.raises(wire.WireError, match="does not match its shape"):
        wire.decode({"nd": ["<f8", [2], "AAAAAAAAAAA="]})
    with pytest.raises(wire.WireError, match="cannot decode"):
        wire.decode({"pickle": "gASV..."})


def test_frames_are_bounded():
    r, w = os.pipe()
    os.write(w, (wire.MAX_FRAME + 1).to_bytes(8, "big"))
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.receive(r)
    os.close(r)
    os.close(w)


# -- the sandbox ----------------------------------------------------------------------------------------------

PROBE = r'''
import json, os, socket
def attempt(fn):
    try:
        return repr(fn())[:60]
    except BaseException as exc:
        return "DENIED " + type(exc).__name__
def probe():
  return json.dumps({
    "uid": os.getuid(), "pid": os.getpid(), "cwd": os.getcwd(),
    "solutions": attempt(lambda: os.listdir(SOLUTIONS)), "grading": attempt(lambda: os.listdir(GRADING)),
    "course": attempt(lambda: os.listdir(COURSE)), "repo": attempt(lambda: sorted(os.listdir(REPO))),
    "copies": [os.path.exists(path) for path in COPIES],
    "write_repo": attempt(lambda: open(os.path.join(REPO, "lablib", "evil.py"), "w")),
    "write_cwd": attempt(lambda: open("mine.txt", "w").write("ok")),
    "tcp": attempt(lambda: socket.create_connection(("127.0.0.1", 22), timeout=2)),
    "dns": attempt(lambda: socket.getaddrinfo("pypi.org", 443)),
    "processes": attempt(lambda: sorted(p for p in os.listdir("/proc") if p.isdigit())),
    "secret": os.environ.get("LABLIB_HIDDEN_SEED"),
    "numpy": attempt(lambda: float(__import__("numpy").ones(2).sum())),
  })
'''


# the probe as a script, run by the cold launcher
RUN_PROBE = """
import json, subprocess, sys
sys.path.insert(0, {repo!r})
from grading.pipeline.sandbox import Sandbox, sandbox_env
sandbox = Sandbox()
workdir = sandbox.workdir()
(workdir / "probe.py").write_text({probe!r} + "\\nprint(probe())\\n")
done = subprocess.run(sandbox.command([sys.executable, str(workdir / "probe.py")], workdir, hide=[{course!r}]),
                      capture_output=True, text=True, timeout=120, env=sandbox_env(workdir))
print(json.dumps({{"workdir": str(workdir), "owner": workdir.stat().st_uid, "code": done.returncode,
                  "out": done.stdout, "err": done.stderr}}))
"""

# the probe as a cell of a verdict harness forked from the warm interpreter (forkserver.py), called remotely
RUN_PROBE_WARM = """
import json, sys
sys.path.insert(0, {repo!r})
from grading.pipeline.sandbox import Sandbox
from grading.pipeline.verdict import Session
session = Session([{{"label": "probe", "source": {probe!r}, "guarded": []}}], sandbox=Sandbox(), hide=[{course!r}])
try:
    session.ensure()
    assert session.proc.args[4] == "--client", session.proc.args  # warm, not the cold launcher
    out = session.lookup("probe")()
    print(json.dumps({{"workdir": str(session.workdir), "owner": session.workdir.stat().st_uid, "code": 0,
                      "out": out, "err": ""}}))
finally:
    session.close()
"""


NON_ROOT = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]


@needs_sandbox
@pytest.mark.parametrize("start", ["cold", "warm"])
@pytest.mark.parametrize("grader", ["as is", "non-root"])
def test_sandbox_hides_the_course_and_cuts_the_network(tmp_path, monkeypatch, grader, start):
    """'non-root' runs the grader in a user namespace as uid 1000: the sandbox then builds its own user
    namespace instead of switching to another user id. 'warm': the probe runs in a verdict harness forked from
    the fork server (forkserver.py), which must give exactly the same sandbox as a cold start."""
    if grader == "non-root" and (os.geteuid() != 0 or not shutil.which("unshare")):
        pytest.skip("simulating a non-root grader needs root and unshare(1)")
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    elsewhere = Path(tempfile.mkdtemp(dir="/var/tmp"))
    in_memory = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="lablib-worker-"))  # where a worker's private course is
    copies = [tmp_path / "old-course" / "solutions" / "lab01.ipynb", elsewhere / "solutions" / "lab01.ipynb",
              in_memory / "course" / "source" / "lab01.ipynb"]
    for copy in copies:
        copy.parent.mkdir(parents=True)
        copy.write_text("{}")
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "424242")  # in the grader's environment, never in the sandbox's
    probe = (f"SOLUTIONS, GRADING, COURSE, REPO = {str(REPO / 'solutions')!r}, "
             f"{str(REPO / 'grading')!r}, {str(course)!r}, {str(REPO)!r}\nCOPIES = {list(map(str, copies))!r}\n"
             + PROBE)
    runner = (RUN_PROBE if start == "cold" else RUN_PROBE_WARM).format(repo=str(REPO), probe=probe,
                                                                       course=str(course))
    prefix = NON_ROOT if grader == "non-root" else []
    ran = subprocess.run([*prefix, sys.executable, "-c", runner], capture_output=True, text=True, timeout=180)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    workdir = Path(result["workdir"])
    try:
        assert result["code"] == 0, result["err"]
        seen = json.loads(result["out"])
        gone = ("[]", "DENIED FileNotFoundError")   # an empty stand-in, or gone with a hidden parent directory
        assert seen["solutions"] in gone and seen["grading"] in gone and seen["course"] in gone
        assert seen["copies"] == [False, False, False]  # not the system's, so hidden: other copies of a course too
        venv = Path(sys.prefix).resolve()
        shown = ["lablib", *([venv.relative_to(REPO).parts[0]] if venv.is_relative_to(REPO) else [])]
        assert seen["repo"] == repr(sorted(shown)) and seen["numpy"] == "2.0"   # the repository: lablib (+ .venv)
        assert seen["write_repo"].startswith("DENIED") and seen["write_cwd"] == "2"
        assert seen["tcp"].startswith("DENIED") and seen["dns"].startswith("DENIED")
        assert seen["processes"] == "['1']" and seen["pid"] == 1 and seen["cwd"] == str(workdir)
        assert seen["secret"] is None
        if grader == "non-root":
            assert seen["uid"] == 1000                                     # in its own user namespace
        elif os.geteuid() == 0:
            assert seen["uid"] == result["owner"] and seen["uid"] >= 200_000   # a fresh user id
        if start == "cold":  # a harness writes into a private copy of its directory (a quota tmpfs), gone now
            assert (workdir / "mine.txt").read_text() == "ok"     # its own directory is its only output
        assert not (REPO / "lablib" / "evil.py").exists()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(elsewhere, ignore_errors=True)
        shutil.rmtree(in_memory, ignore_errors=True)


@needs_sandbox
def test_sandbox_limits_memory_and_dies_with_its_launcher(tmp_path):
    sandbox = Sandbox(memory_mb=512)
    workdir = sandbox.workdir()
    try:
        bomb = "import numpy as np\ntry:\n    np.ones(2**30)\nexcept MemoryError:\n    print('limited')"
        done = subprocess.run(sandbox.command([sys.executable, "-c", bomb], workdir), capture_output=True,
                              text=True, timeout=120, env=sandbox_env(workdir))
        assert done.stdout.strip() == "limited", done.stderr
        loop = subprocess.Popen(sandbox.command([sys.executable, "-c", "while True: pass"], workdir),
                                env=sandbox_env(workdir), start_new_session=True)
        with pytest.raises(subprocess.TimeoutExpired):
            loop.wait(timeout=2)
        loop.kill()
        assert loop.wait(timeout=30) != 0
    finally:
        subprocess.run(["rm", "-rf", str(workdir)])


CGROUPS = os.geteuid() == 0 and Path("/sys/fs/cgroup/memory/cgroup.procs").exists()

MEMORY_HOGS = """
import os, sys, time
import numpy as np
children = []
for _ in range(int(sys.argv[1])):
    pid = os.fork()
    if pid == 0:
        hog = np.ones((600 << 20) // 8)   # 600 MiB, touched: under the per-process limit of 1 GiB
        time.sleep(3)
        os._exit(0)
    children.append(pid)
print([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children])
"""


@needs_sandbox
@pytest.mark.skipif(not CGROUPS, reason="one memory limit for a whole sandbox needs root and cgroup v1's memory "
                                        "hierarchy")
def test_the_processes_of_a_sandbox_share_one_memory_limit():
    def exit_codes(hogs: int) -> list[int]:
        sandbox = Sandbox(memory_mb=1024)
        workdir = sandbox.workdir()
        try:
            launcher = subprocess.Popen(sandbox.command([sys.executable, "-c", MEMORY_HOGS, str(hogs)], workdir),
                                        stdout=subprocess.PIPE, text=True, env=sandbox_env(workdir))
            codes = json.loads(launcher.communicate(timeout=120)[0])
            assert not list(Path("/sys/fs/cgroup/memory").rglob(f"lablib-sandbox-{launcher.pid}"))  # removed after
            return codes
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    assert exit_codes(1) == [0]                  # one 600 MiB process fits the sandbox's 1 GiB
    codes = exit_codes(4)
    assert -9 in codes, codes                    # 4 x 600 MiB > 1 GiB together: the kernel's OOM killer (which of
    #                                              them survive depends on timing: all four may be killed)


@needs_sandbox
@pytest.mark.skipif(not CGROUPS, reason="cgroups per sandbox need root and cgroup v1's memory hierarchy")
def test_the_cgroups_of_a_killed_launcher_are_removed_later_and_a_running_ones_kept():
    """The grader kills a finished kernel and harness (process group, SIGKILL): their launcher cannot remove its
    cgroups, so remove_stale_cgroups does (when the next sandbox starts and after autograding)."""
    import os
    import signal
    import time

    from grading.pipeline.sandbox import _cgroup_parents, remove_stale_cgroups

    sandbox = Sandbox()
    workdir = sandbox.workdir()
    try:
        launcher = subprocess.Popen(sandbox.command([sys.executable, "-c", "import time; time.sleep(60)"], workdir),
                                    env=sandbox_env(workdir), start_new_session=True)
        groups = [parent / f"lablib-sandbox-{launcher.pid}" for parent in _cgroup_parents().values()]
        assert len(groups) == 2                             # memory and pids
        deadline = time.monotonic() + 30
        while not all((g / "cgroup.procs").exists() and (g / "cgroup.procs").read_text().strip() for g in groups):
            assert time.monotonic() < deadline, "the sandbox never joined its cgroups"
            time.sleep(0.05)
        remove_stale_cgroups()
        assert all(g.is_dir() for g in groups)              # running: kept
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()
        assert any(g.is_dir() for g in groups)              # the killed launcher left them
        deadline = time.monotonic() + 30
        while any(g.is_dir() for g in groups):              # removed once their processes are gone
            remove_stale_cgroups()
            assert time.monotonic() < deadline, [g for g in groups if g.is_dir()]
            time.sleep(0.05)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# -- remote calls -----------------------------------------------------------------------------------------

ANSWERS = textwrap.dedent('''
    import numpy as np

    def f(x):
        return x ** 2

    def mutate(state, a):
        state["n"] = state.get("n", 0) + 1
        a *= 2
        return None

    def uses_callback(grad, x):
        return grad(grad(x))

    def unfinished(x):
        raise NotImplementedError()

    def forever(x):
        while True:
            pass

    class Sneaky:
        def __eq__(self, other):
            return True

    def sneaky(x):
        return Sneaky()

    def draws(rng):
        return rng.random()

    VALUE = 3
''')


@pytest.fixture(scope="module")
def session():
    sandbox = Sandbox(enabled=available() is None)
    s = Session([{"label": "answers", "source": ANSWERS, "guarded": []}], sandbox=sandbox, call_timeout=3)
    yield s
    s.close()


def test_remote_functions_behave_like_local_ones(session):
    f = session.lookup("f")
    assert f.__name__ == "f" and list(f.__signature__.parameters) == ["x"]
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 1.0, 4.0])
    assert session.lookup("nothing") is None
    assert session.lookup("VALUE") == ("value", "int", "3")


def test_mutations_of_arguments_come_back(session):
    state, a = {}, np.ones(2)
    session.lookup("mutate")(state, a)
    assert state == {"n": 1} and a.tolist() == [2.0, 2.0]
    rng = np.random.default_rng(3)
    expected = np.random.default_rng(3).random()
    assert session.lookup("draws")(rng) == expected
    assert rng.random() == np.random.default_rng(3).random(2)[1]   # the generator advanced, as in-process


def test_functions_of_the_grader_are_called_back(session):
    calls = []

    def grad(x):
        calls.append(x)
        return 2 * x

    assert session.lookup("uses_callback")(grad, 1.5) == 6.0 and calls == [1.5, 3.0]


def test_non_plain_results_stay_opaque(session):
    result = session.lookup("sneaky")(1.0)
    assert isinstance(result, Handle) and result.type_name == "Sneaky"
    assert not (result == 1.0)  # its __eq__ never runs here


def test_exceptions_keep_their_meaning_and_a_hang_fails_the_check(session):
    with pytest.raises(NotImplementedError):
        session.lookup("unfinished")(1.0)
    with pytest.raises(CheckFailure, match=r"did not finish within 3 s .* grading flag timeout"):
        session.lookup("forever")(1.0)
    assert "timeout" in session.flags
    np.testing.assert_array_equal(session.lookup("f")(2.0), 4.0)  # restarted for what comes next


def test_the_check_engine_runs_on_remote_functions(session):
    assert run_check("f", session.lookup("f"), hidden=True, seed=99).startswith("✓ f:")
    with pytest.raises(CheckFailure, match="not implemented yet"):
        run_check("f", session.lookup("unfinished"))


def test_only_plain_check_cells_are_verified_by_the_grader():
    assert checks_in('check("f", f)\ncheck("f", f, hidden=True)') == [("f", "f", False), ("f", "f", True)]
    assert checks_in("assert f(2) == 4") is None
    assert checks_in('check("f", f)\nprint("x")') is None


def test_the_kernel_result_is_ignored_only_for_hidden_checks_and_quiz_cells():
    assert kernel_blind('# Hidden tests\ncheck("f", f, hidden=True)\ncheck("df", df, hidden=True)')
    assert kernel_blind('check_quiz("lab02:q1", q1, number=True)\ncheck_quiz("lab02:q1", q1, hidden=True)')
    assert not kernel_blind('check("f", f)')
    assert not kernel_blind('check("f", f)\ncheck("f", f, hidden=True)')  # its public check is compared
    assert not kernel_blind('check("f", f, hidden=True)\nprint("x")')       # not the grader's: the kernel decides
    assert not kernel_blind("assert f(2) == 4")


# -- verdicts computed while the kernel runs ------------------------------------------------------------------

@needs_sandbox
def test_verdicts_started_before_the_kernel_are_the_ones_applied():
    """StartTrustedVerdict computes the verdicts in a thread from the cells as they were when it ran (the kernel
    only adds outputs); TrustedVerdict applies exactly what computing them there and then would have given."""
    import copy
    from concurrent.futures import Future

    import nbformat
    from traitlets.config import Config

    from grading.pipeline.preprocessors import grading_metadata
    from grading.pipeline.verdict import PENDING, StartTrustedVerdict, TrustedVerdict
    from _notebooks import source_notebook

    nb = nbformat.read(source_notebook("lab01-gradient-descent"), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "f")
    answer.source = "def f(x):\n    return 2 * x\n"      # wrong: its checks fail, the others pass
    config = Config({"TrustedVerdict": {"hidden_seed": "4242"}})

    resources = {}
    early, resources = StartTrustedVerdict(config=config).preprocess(copy.deepcopy(nb), resources)
    assert isinstance(resources[PENDING], Future)
    next(c for c in early.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "f").source = "f = None\n"
    early, resources = TrustedVerdict(config=config).preprocess(early, resources)
    assert PENDING not in resources
    late, _ = TrustedVerdict(config=config).preprocess(copy.deepcopy(nb), {})

    def verdicts(notebook):
        return {c.metadata["nbgrader"]["grade_id"]: [(o.output_type, o.get("text") or o.get("evalue"))
                                                     for o in c.outputs]
                for c in notebook.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
                and not c.metadata["nbgrader"].get("solution")}

    assert verdicts(early) == verdicts(late)
    assert [kind for kind, _ in verdicts(early)["test_f"]] == ["error"]
    assert [kind for kind, _ in verdicts(early)["test_df"]] == ["stream"]
    assert grading_metadata(early)["flags"] == grading_metadata(late)["flags"]
