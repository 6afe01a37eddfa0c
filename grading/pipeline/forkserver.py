"""Warm starts: sandboxed kernels and verdict harnesses forked from a pre-imported interpreter.

Every submission starts a kernel and two verdict harnesses (verdict.py), each a cold Python that then imports
ipykernel or the harness, numpy, matplotlib and lablib: about 0.6 s of CPU each, most of a submission's
grading time. A grader process (one per Dask worker) instead starts one *fork server* the first time it needs a
sandbox, a Python that has imported all that and then only waits. For each sandbox:

1. the grader starts a tiny client (``python -I -S forkserver.py --client ...``: the standard library only)
   in place of the cold launcher, with the same command line, environment and file descriptors;
2. the client connects to the server's unix socket (in a 0700 directory of the grader's) and hands over its
   standard streams and the descriptors the command needs (SCM_RIGHTS), the command, the environment and the
   sandbox policy;
3. the server forks a launcher for it, which builds a **new sandbox exactly as sandbox.py's launcher does**
   (the same ``launch``: cgroups, namespaces, file system view, limits, fresh user id, no_new_privs) and, inside
   it, instead of exec'ing a new Python, runs the command's entry point in the forked, already warm interpreter
   (``ipykernel_launcher`` or ``lablib.grading.harness``; any other command is exec'd as usual);
4. the client relays signals (a kernel interrupt) and waits; it exits with the sandbox's exit code. When the
   client dies (the grader killed it), the launcher kills the sandbox.

What it keeps, and why it is safe: the server has read nothing but public code (the grader starts it with the
sandbox's clean environment, no descriptor of the grader's and no secret; it never reads a request: each is read
by its forked launcher), and it runs no student code; each sandbox is a fresh copy-on-write fork of it, so
nothing one student's code does reaches the server or another student's sandbox. What forked sandboxes share
is what they would share as fresh processes of the same program, plus the server's address-space layout and
string hash seed (ASLR and ``PYTHONHASHSEED`` protect no secret here: the sandbox holds none); the random
generators of ``random`` and numpy's legacy global state are re-seeded in every sandbox.

``Sandbox.warm = False`` (grading/nbgrader_config.py) starts every sandbox cold, as before; so does a server that
cannot start (reported once on stderr).
"""
from __future__ import annotations

import array
import json
import os
import select
import signal
import socket
import struct
import sys

# what a warm sandbox can run in the forked interpreter: ``python -m MODULE ARGS...``
WARM_MODULES = ("ipykernel_launcher", "lablib.grading.harness")
MAX_REQUEST = 1 << 20          # bytes of one client request (command, environment, policy file name)
MAX_FDS = 16
START_TIMEOUT = 60.0           # seconds for the server to import everything and say it is ready


# -- the client (a cold Python with the standard library only: what the grader starts per sandbox) ---------------

def client(argv: list[str]) -> int:
    """``--client SOCKET POLICY FDS -- COMMAND...``: run COMMAND in a sandbox forked by the server at SOCKET.
    FDS: the descriptors besides 0, 1 and 2 the command needs (comma-separated, may be empty)."""
    path, policy_file, fds_text, sep, *cmd = argv
    if sep != "--" or not cmd:
        print("usage: forkserver.py --client SOCKET POLICY FDS -- COMMAND...", file=sys.stderr)
        return 2
    _die_with_parent()
    fds = [0, 1, 2, *(int(fd) for fd in fds_text.split(",") if fd)]
    request = json.dumps({"policy": policy_file, "cmd": cmd, "env": dict(os.environ), "fds": fds}).encode()
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        message = struct.pack("!I", len(request)) + request
        sent = socket.send_fds(conn, [message], fds)
        conn.sendall(message[sent:])
    except OSError as exc:
        print(f"sandbox: the warm interpreter is not there ({exc})", file=sys.stderr)
        return 126
    for fd in fds[3:]:
        os.close(fd)

    def relay(signum, _frame):  # a kernel interrupt (SIGINT to the client's process group) reaches the sandbox
        try:
            conn.send(bytes([signum]))
        except OSError:
            pass

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, relay)
    answer = b""
    while len(answer) < 4:
        chunk = conn.recv(4 - len(answer))
        if not chunk:
            return 125  # the launcher died before the sandbox ended
        answer += chunk
    return struct.unpack("!i", answer)[0]


def _die_with_parent() -> None:
    """SIGKILL when the grader (the thread that started this process) dies: a grader killed with SIGKILL leaves
    no sandbox running (its launcher kills the sandbox when this process goes, sandbox.py's when it does)."""
    import ctypes

    parent = os.getppid()
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        os._exit(125)


# -- the server -----------------------------------------------------------------------------------------------

def serve(path: str, lifeline: int) -> None:
    """Import what kernels and harnesses import, say 'ready' on stdout, then fork a launcher per connection at
    ``path`` until ``lifeline`` (a pipe from the grader) closes."""
    import random  # noqa: F401
    import ipykernel.debugger  # noqa: F401  (debugpy: a kernel's slowest import)
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import ipykernel.zmqshell  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401
    import numpy  # noqa: F401

    import lablib  # noqa: F401
    import lablib.grading.harness  # noqa: F401
    for name in ("lablib.data", "lablib.gradcheck", "lablib.nn", "lablib.plots", "lablib.widgets",
                 "lablib.grading"):
        __import__(name)

    import sandbox  # next to this file (the server runs as a file, without the pipeline's package)

    sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # launchers are reaped by the kernel
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the grader's Ctrl-C is the grader's; the lifeline ends us
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([listener, lifeline], [], [])
        if lifeline in readable:
            return
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        pid = os.fork()
        if pid == 0:
            code = 127
            try:
                listener.close()
                os.close(lifeline)
                code = _launcher(conn, sandbox)
            finally:
                os._exit(code)
        conn.close()


def _launcher(conn: socket.socket, sandbox) -> int:
    """One sandbox: read the request, arrange the client's descriptors, ``sandbox.launch`` with a warm ``run``;
    tell the client the exit code."""
    for sig in (signal.SIGCHLD, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    header, fds, _, _ = socket.recv_fds(conn, 4, MAX_FDS)
    (size,) = struct.unpack("!I", header) if len(header) == 4 else (MAX_REQUEST + 1,)
    if size > MAX_REQUEST:
        return 2
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return 2
        data += chunk
    request = json.loads(data)
    targets = [int(fd) for fd in request["fds"]]
    if len(targets) != len(fds):
        return 2
    keep = _arrange(fds, targets, conn)
    cmd, env = [str(part) for part in request["cmd"]], {str(k): str(v) for k, v in request["env"].items()}
    with open(request["policy"]) as policy_file:
        policy = json.load(policy_file)

    def run() -> int:
        os.close(keep)
        return _run_warm(cmd, env)

    def wait(pid: int) -> int:
        return _wait(pid, keep)

    try:
        code = sandbox.launch(policy, cmd, run=run if warm_target(cmd) else None, wait=wait)
    except OSError as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        code = 126
    with _suppress():
        os.write(keep, struct.pack("!i", code))
    return code


def _arrange(fds: list[int], targets: list[int], conn: socket.socket) -> int:
    """Put each received descriptor at the number the client had it at, close every other descriptor but the
    connection, and return the connection's (new) number."""
    import fcntl

    above = max(targets) + 1
    lifted = [fcntl.fcntl(fd, fcntl.F_DUPFD, above) for fd in fds]
    keep = fcntl.fcntl(conn.detach(), fcntl.F_DUPFD, above)
    for fd, target in zip(lifted, targets):
        os.dup2(fd, target)  # inheritable
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in targets and fd != keep:
            with _suppress():
                os.close(fd)
    return keep


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, OSError)


def _wait(pid: int, conn: int) -> int:
    """The sandbox's wait status: signals the client relays go to it; if the client goes away, it is killed."""
    pidfd = os.pidfd_open(pid)
    while True:
        readable, _, _ = select.select([pidfd, conn], [], [])
        if conn in readable:
            try:
                data = os.read(conn, 64)
            except OSError:
                data = b""
            for signum in data if data else [signal.SIGKILL]:
                if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
                    with _suppress():
                        os.kill(pid, signum)
            if not data:
                return os.waitpid(pid, 0)[1]
        if pidfd in readable:
            os.close(pidfd)
            return os.waitpid(pid, 0)[1]


def warm_target(cmd: list[str]) -> bool:
    return len(cmd) >= 3 and cmd[1] == "-m" and cmd[2] in WARM_MODULES and \
        os.path.basename(cmd[0]) in ("python", "python3", os.path.basename(sys.executable))


def _run_warm(cmd: list[str], env: dict) -> int:
    """In the new sandbox (privileges dropped, work directory current): run ``python -m MODULE ARGS`` here."""
    import random

    import numpy

    os.environ.clear()
    os.environ.update(env)
    random.seed()
    numpy.random.seed()
    module, args = cmd[2], cmd[3:]
    sys.argv = [module, *args]
    sys.path.insert(0, os.getcwd())  # as ``python -m`` has it
    code = 0
    try:
        if module == "ipykernel_launcher":
            from ipykernel import kernelapp

            # read from the environment when ipykernel was imported (in the server): as a cold kernel has it
            parent = f"--IPKernelApp.parent_handle={int(env.get('JPY_PARENT_PID') or 0)}"
            kernelapp.launch_new_instance(argv=[*args, parent])
        else:
            from lablib.grading import harness

            code = harness.main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with _suppress():
                stream.flush()
    return code


# -- the grader's side ---------------------------------------------------------------------------------------------

class Server:
    """A running fork server of this grader process (started by ``warm_command``)."""

    def __init__(self):
        import subprocess
        import tempfile

        from .sandbox import REPO, Sandbox, sandbox_env

        self.owner = os.getpid()
        self.dir = tempfile.mkdtemp(prefix="lablib-forkserver-")  # 0700: only the grader reaches the socket
        self.path = os.path.join(self.dir, "socket")
        self.home = Sandbox().workdir()  # the clean home of a sandbox, with matplotlib's font cache
        readable, self.lifeline = os.pipe()
        self.log = tempfile.TemporaryFile()  # the server's own stderr (a sandbox has the stderr its client gives)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), "--serve", self.path, str(readable), str(REPO)],
            pass_fds=(readable,), env=sandbox_env(self.home, {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}),
            cwd=self.home, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log,
            start_new_session=True)
        os.close(readable)
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.close()
            self.log.seek(0)
            raise OSError(f"the fork server did not start: {self.log.read().decode(errors='replace')[-500:]}")

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def command(self, policy_file, cmd: list[str], fds=()) -> list[str]:
        return [sys.executable, "-I", "-S", os.path.abspath(__file__), "--client", self.path, str(policy_file),
                ",".join(str(int(fd)) for fd in fds), "--", *cmd]

    def close(self) -> None:
        import shutil

        from .sandbox import Sandbox

        if self.owner != os.getpid():
            return
        with _suppress():
            os.close(self.lifeline)
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        Sandbox.release_workdir(self.home)


_server: Server | None = None
_failed = False
_lock = None


def warm_command(policy_file, cmd: list[str], fds=()) -> list[str] | None:
    """The client command line that runs ``cmd`` in a sandbox forked from this process's fork server (started
    now if need be), or None: ``cmd`` is not one it runs warm, or the server cannot start here (said once)."""
    global _server, _failed, _lock
    import threading

    if not warm_target(cmd) or _failed:
        return None
    if _lock is None:
        _lock = threading.Lock()
    with _lock:
        if _server is None or not _server.alive():
            if _server is not None and _server.owner == os.getpid():
                _server.close()
            try:
                _server = Server()
            except OSError as exc:
                _failed = True
                _server = None
                print(f"grading: sandboxes start cold ({exc})", file=sys.stderr)
                return None
            import atexit

            atexit.register(_server.close)
        return _server.command(policy_file, cmd, fds)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        sys.exit(client(sys.argv[2:]))
    if sys.argv[1:2] == ["--serve"]:  # SOCKET LIFELINE REPO
        sys.path[:0] = [sys.argv[4], os.path.dirname(os.path.abspath(__file__))]
        serve(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
