"""Warm starts (grading/pipeline/forkserver.py): kernels and verdict harnesses forked from a pre-imported
interpreter get a new sandbox each, share nothing, and the server holds nothing of the grader's. The sandbox's
own properties (hidden course, no network, fresh user id) are checked warm and cold in test_grading_sandbox.py."""
from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from grading.pipeline import forkserver
from grading.pipeline.sandbox import Sandbox, available
from grading.pipeline.verdict import Session

pytestmark = pytest.mark.skipif(available() is not None, reason=f"no sandbox here: {available()}")

MARK_AND_REPORT = '''
import os, random, sys
import numpy, lablib
def report():
    return [getattr(numpy, "MARK", None), getattr(lablib, "MARK", None), sys.modules.get("student_module") is not None,
            os.path.exists("/tmp/mark"), random.random(), float(numpy.random.random()), os.getuid(), os.getpid()]
'''
MARK = '''
numpy.MARK = lablib.MARK = "first student"
sys.modules["student_module"] = object()
open("/tmp/mark", "w").write("first student")
'''


@pytest.fixture
def fresh_server():
    """This process's fork server, started anew for the test and stopped after it."""
    def stop():
        if forkserver._server is not None:
            forkserver._server.close()
        forkserver._server, forkserver._failed = None, False

    stop()
    yield
    stop()


def _session(source: str) -> Session:
    session = Session([{"label": "cell", "source": source, "guarded": []}], sandbox=Sandbox(), call_timeout=10)
    session.ensure()
    assert session.proc.args[4] == "--client"  # forked from the warm interpreter
    return session


def test_warm_sandboxes_share_nothing(fresh_server):
    first = _session(MARK_AND_REPORT + MARK)
    second = _session(MARK_AND_REPORT)
    try:
        mine, theirs = first.lookup("report")(), second.lookup("report")()
    finally:
        first.close()
        second.close()
    assert mine[:4] == ["first student", "first student", True, True]
    assert theirs[:4] == [None, None, False, False]    # modules, sys.modules and /tmp are the sandbox's own
    assert mine[4] != theirs[4] and mine[5] != theirs[5]  # random and numpy's global generator re-seeded per fork
    assert mine[7] == theirs[7] == 1                    # each the first process of its own PID namespace
    if os.geteuid() == 0:
        assert mine[6] != theirs[6] and min(mine[6], theirs[6]) >= 200_000  # a fresh user id each


def test_the_server_holds_nothing_of_the_graders(fresh_server, monkeypatch, tmp_path):
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "424242")
    secret = tmp_path / "hidden_seed"
    secret.write_text("424242")
    held = os.open(secret, os.O_RDONLY)  # an open descriptor of the grader's: not inherited
    try:
        session = _session("x = 1")
        session.close()
        server = forkserver._server
        environ = Path(f"/proc/{server.proc.pid}/environ").read_bytes().split(b"\0")
        assert not any(b"424242" in entry for entry in environ)
        assert {e.split(b"=")[0] for e in environ if e} <= {k.encode() for k in forkserver_env_keys()}
        links = {os.readlink(f"/proc/{server.proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{server.proc.pid}/fd")}
        assert str(secret) not in links
        assert not any(link.startswith("/work") or link.endswith(".db") for link in links), links
    finally:
        os.close(held)


def forkserver_env_keys() -> set[str]:
    from grading.pipeline.sandbox import sandbox_env

    return {*sandbox_env(Path("/nowhere")), "PYDEVD_DISABLE_FILE_VALIDATION"}


SLEEPER = ("import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', "
           "'import time; time.sleep(600)'])")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="a sandbox's processes are told apart by their own user id "
                             "(as root)")


def processes_of(uid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if any(line.split()[1:2] == [str(uid)] for line in status.splitlines() if line.startswith("Uid:")):
            found.append(int(entry))
    return found


def gone(uid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not processes_of(uid)


@as_root
def test_killing_the_client_kills_the_sandbox(fresh_server):
    session = _session(SLEEPER)
    uid = session.workdir.stat().st_uid
    assert len(processes_of(uid)) == 2  # the harness and the sleeper it started
    os.kill(session.proc.pid, signal.SIGKILL)  # the client, as the grader kills a finished or stuck harness
    session.proc.wait()
    try:
        assert gone(uid)
    finally:
        session.proc = None
        Sandbox.release_workdir(session.workdir)


GRADER = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from grading.pipeline.preprocessors import SandboxedKernelManager

async def main():
    km = SandboxedKernelManager(kernel_name="python3")
    km.sandbox.warm = {warm}
    await km.start_kernel()
    client = km.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    print(km.workdir.stat().st_uid, "--client" in km.provisioner.process.args, km.workdir, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@as_root
@pytest.mark.parametrize("warm", [True, False])
def test_a_grader_killed_with_sigkill_leaves_no_kernel_running(warm):
    """A kernel serves until told to stop: nothing but the sandbox's own tie to the grader ends it."""
    import subprocess
    import sys

    from grading.pipeline.sandbox import REPO

    grader = subprocess.Popen([sys.executable, "-c", GRADER.format(repo=str(REPO), warm=warm)],
                              stdout=subprocess.PIPE, text=True)
    try:
        uid, was_warm, workdir = grader.stdout.readline().split()
        uid = int(uid)
        assert was_warm == str(warm) and processes_of(uid)
    finally:
        grader.kill()   # SIGKILL: no cleanup of its own runs
        grader.wait()
    try:
        assert gone(uid)
    finally:
        for pid in processes_of(uid):
            os.kill(pid, signal.SIGKILL)
        Sandbox.release_workdir(Path(workdir))


def test_a_warm_kernel_runs_and_is_interrupted(fresh_server):
    from grading.pipeline.preprocessors import SandboxedKernelManager

    async def run():
        km = SandboxedKernelManager(kernel_name="python3")
        await km.start_kernel()
        try:
            assert "--client" in km.provisioner.process.args  # forked from the warm interpreter
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            kc.execute("import os, time\nprint(os.getpid(), 'numpy' in __import__('sys').modules)\ntime.sleep(60)")
            started = time.monotonic()
            await asyncio.sleep(1.0)
            await km.interrupt_kernel()
            outputs = []
            while True:
                msg = await kc.get_iopub_msg(timeout=20)
                if msg["msg_type"] in ("stream", "error"):
                    outputs.append(msg["content"])
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            kc.stop_channels()
            return outputs, time.monotonic() - started
        finally:
            await km.shutdown_kernel(now=True)

    outputs, seconds = asyncio.run(run())
    assert outputs[0]["text"].split() == ["1", "True"]   # pid 1 of its namespace, numpy already imported
    assert outputs[-1].get("ename") == "KeyboardInterrupt" and seconds < 30


def test_a_server_that_cannot_start_means_cold_starts(fresh_server, monkeypatch, capsys, tmp_path):
    def broken():
        raise OSError("the fork server did not start: simulated")

    monkeypatch.setattr(forkserver, "Server", broken)
    cmd = Sandbox().command(["python", "-m", "lablib.grading.harness", "3", "4"], tmp_path)
    assert cmd[2].endswith("sandbox.py")          # the cold launcher
    assert "sandboxes start cold" in capsys.readouterr().err
    assert Sandbox().command(["python", "-m", "lablib.grading.harness", "3", "4"], tmp_path)[2].endswith("sandbox.py")
