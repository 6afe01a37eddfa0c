"""Run untrusted student code in a sandbox made of Linux namespaces and resource limits.

    python -m grading.pipeline.sandbox POLICY.json -- COMMAND...

starts COMMAND (a Jupyter kernel, or the verdict harness) so that it

* has **no network**: a new network namespace with no interface up (not even loopback);
* sees a **read-only file system** of the system's directories only (``/usr``, ``/etc``, ``/lib``, ...): every
  other entry of ``/`` (``/home``, ``/root``, ``/tmp``, ``/var``, ``/opt``, ``/work``, ...) and the repository
  are empty stand-ins, so no course directory, source notebook, gradebook, submission or other copy of the
  course on the machine is visible; the Python installation and the repository's ``lablib/`` (what the
  notebooks import) are put back read-only, and only its own work directory (and a small private ``/tmp``)
  is writable;
* cannot see or signal other processes (a new PID namespace with its own ``/proc``) and dies with its launcher;
* runs **unprivileged**: as a fresh user id of its own when the grader is root, otherwise in a user namespace that keeps no
  capability; ``no_new_privs`` is set;
* has **limits** (``setrlimit``): CPU seconds, address space, processes, file size, open files; and, where the
  grader is root and cgroup v1's memory and pids hierarchies are there, one memory and one process limit for
  all of the sandbox's processes together (a cgroup per sandbox).

A warm interpreter (forkserver.py) builds the same sandbox with the same ``launch`` and runs a kernel or a harness
in it without exec'ing a new Python. Wall time is the caller's business (it kills the launcher; the sandbox dies
with it: PR_SET_PDEATHSIG in a PID namespace takes every process of the sandbox down; the launcher dies with the
grader). Linux only; namespaces need either root or unprivileged
user namespaces (most distributions). ``available()`` says whether they work here, and the pipeline refuses to
grade without a sandbox unless told to (``Sandbox.enabled = False``, for timing comparisons).

A production deployment adds what a process sandbox cannot: a container per submission (an image with only
Python and the kit; Docker/Podman with ``--network none --read-only --memory --pids-limit --cpus``) or a VM,
and cgroups for memory and CPU of all processes together wherever the process sandbox cannot make its own
(cgroup v2 delegation, a non-root grader).
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from traitlets import Bool, Integer, List, Unicode
from traitlets.config import Configurable

REPO = Path(__file__).resolve().parents[2]

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE = 16384, 1 << 18
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x00000001
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442  # one numbering on every architecture
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC, AT_EMPTY_PATH, MOVE_MOUNT_F_EMPTY_PATH = 1, os.O_CLOEXEC, 0x1000, 0x4
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
MNT_DETACH = 2
NOBODY = 65534
FIRST_UID, UID_RANGE = 200_000, 1_000_000  # user ids of sandboxes (no account has them)

# Directories a student's code never needs; the course directory and the repository's private parts are added.
# Of the root directory's entries, the sandbox sees the system's (programs, libraries, configuration, devices);
# every other one is an empty stand-in (/home, /root, /tmp, /var, /opt, /srv, /work, ...: wherever a course,
# another copy of it or a grader's file may be), and so is the repository. Put back, read-only: the Python
# installation and lablib/ (what the notebooks import), and the sandbox's own work directory, writable.
SYSTEM_DIRS = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "sys"})
SHADOWED = ("/dev/shm",)


def _hidden_by_default() -> list[str]:
    return [str(entry) for entry in Path("/").iterdir() if entry.name not in SYSTEM_DIRS] + [*SHADOWED, str(REPO)]


class Sandbox(Configurable):
    """How student code runs while grading (grading/nbgrader_config.py: ``c.Sandbox.*``)."""

    enabled = Bool(True, help="Run student code in the sandbox. Off only to measure what it costs.").tag(config=True)
    hide = List(Unicode(), help="More paths student code must not see (the course directory is added by the "
                "pipeline).").tag(config=True)
    cpu_seconds = Integer(300, help="CPU seconds per sandboxed process (RLIMIT_CPU).").tag(config=True)
    memory_mb = Integer(3072, help="Address space per process in MiB (RLIMIT_AS).").tag(config=True)
    max_processes = Integer(64, help="Processes and threads of the sandbox user (RLIMIT_NPROC).").tag(config=True)
    max_file_mb = Integer(64, help="Largest file a sandboxed process may write, MiB (RLIMIT_FSIZE).").tag(config=True)
    tmp_mb = Integer(64, help="Size of the sandbox's private /tmp, MiB.").tag(config=True)
    warm = Bool(True, help="Fork kernels and verdict harnesses from a pre-imported interpreter (forkserver.py), "
                "each in a new sandbox; False starts each cold.").tag(config=True)
    workdir_mb = Integer(256, help="Disk quota of a private work directory (a size-limited tmpfs the sandbox "
                         "alone sees: the verdict harness's), MiB.").tag(config=True)

    def policy(self, workdir: Path, hide=(), private: bool = False) -> dict:
        return {
            "private_workdir_bytes": (self.workdir_mb << 20) if private else 0,
            "workdir": str(workdir),
            "hide": sorted({*_hidden_by_default(), *self.hide, *map(str, hide)}),
            "keep": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, str(REPO / "lablib")}),
            "cpu_seconds": self.cpu_seconds, "memory_bytes": self.memory_mb << 20,
            "max_processes": self.max_processes, "max_file_bytes": self.max_file_mb << 20,
            "tmp_bytes": self.tmp_mb << 20,
        }

    def workdir(self, quota: bool = False) -> Path:
        """A fresh directory for one sandboxed run (removed by ``release_workdir``, or ``shutil.rmtree`` without a
        quota). ``quota``: where the grader is root, the directory is a tmpfs of ``workdir_mb`` MiB and 10,000
        inodes (a disk quota that the sandbox and the grader both see: a kernel's sockets are there); elsewhere
        the verdict harness gets a private one inside its sandbox (``command(private=True)``). When the
        grader is root, its owner is a fresh unused user id, the one the sandbox runs as: the process limit
        (RLIMIT_NPROC counts per user) is then this sandbox's alone, whatever runs beside it. It comes seeded with
        matplotlib's font cache (a first import would otherwise spend a second building it, in every sandbox)."""
        path = Path(tempfile.mkdtemp(prefix="lablib-sandbox-"))
        uid = FIRST_UID + secrets.randbelow(UID_RANGE) if os.geteuid() == 0 else os.getuid()
        gid = uid if os.geteuid() == 0 else os.getgid()
        os.chown(path, uid, gid)
        if quota and os.geteuid() == 0 and self.workdir_mb > 0:
            with contextlib.suppress(OSError):  # no mount privilege (a container): the private one still applies
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={self.workdir_mb << 20},nr_inodes=10000,mode=0700,uid={uid},gid={gid}")
        cache_dir = _font_cache()
        if cache_dir is not None:
            shutil.copytree(cache_dir, path / ".matplotlib")
            for copied in [path / ".matplotlib", *(path / ".matplotlib").iterdir()]:
                os.chown(copied, uid, gid)
        return path

    @staticmethod
    def release_workdir(path: Path) -> None:
        """Remove a work directory (unmounting its quota tmpfs first, if it has one)."""
        if os.path.ismount(path):
            with contextlib.suppress(OSError):
                _check(_libc.umount2(str(path).encode(), MNT_DETACH), f"umount {path}")
        shutil.rmtree(path, ignore_errors=True)

    def command(self, cmd: list[str], workdir: Path, hide=(), private: bool = False, fds=()) -> list[str]:
        """``cmd`` wrapped in the sandbox launcher (the policy is written into ``workdir``). ``private``: the
        sandbox gets its own copy of ``workdir`` on a tmpfs of ``workdir_mb`` (a disk quota; nothing it writes
        reaches the host's disk, nobody outside sees it: not for a kernel, whose sockets are there). ``fds``: the
        descriptors besides 0, 1 and 2 that ``cmd`` uses (passed to it; ``Popen(pass_fds=...)`` them too). A
        kernel or a verdict harness starts warm (``warm``: forkserver.py) when it can."""
        policy_file = Path(workdir) / ".sandbox-policy.json"
        private = private and not os.path.ismount(workdir)  # a quota tmpfs already (workdir(quota=True) as root)
        policy_file.write_text(json.dumps(self.policy(Path(workdir), hide, private)))
        if self.warm:
            from .forkserver import warm_command

            warm = warm_command(policy_file, cmd, fds)
            if warm is not None:
                return warm
        return [sys.executable, "-I", __file__, str(policy_file), "--", *cmd]


def sandbox_env(workdir: Path, extra: dict | None = None) -> dict:
    """The environment of sandboxed code: nothing inherited from the grader (no secret can leak through it)."""
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(workdir), "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
        "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(Path(workdir) / ".matplotlib"),
        "IPYTHONDIR": str(Path(workdir) / ".ipython"), "JUPYTER_RUNTIME_DIR": str(Path(workdir) / ".jupyter"),
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }
    return {**env, **(extra or {})}


@cache
def _font_cache() -> Path | None:
    try:
        import matplotlib
        from matplotlib import font_manager  # noqa: F401  (builds the cache if needed)
    except ImportError:
        return None
    path = Path(matplotlib.get_cachedir())
    return path if any(path.glob("fontlist-*.json")) else None


@cache
def available() -> str | None:
    """None when the sandbox works on this machine, else why not (tried once per process)."""
    if not sys.platform.startswith("linux"):
        return "the sandbox needs Linux namespaces"
    sandbox = Sandbox()
    workdir = sandbox.workdir()
    try:
        probe = subprocess.run(sandbox.command([sys.executable, "-c", "print('ok')"], workdir),
                               capture_output=True, text=True, timeout=60, env=sandbox_env(workdir))
        if probe.returncode != 0 or probe.stdout.strip() != "ok":
            return f"the sandbox launcher failed: {probe.stderr.strip()[-500:]}"
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# The launcher (runs as its own process, before and around the sandboxed command)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox: {what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = (lambda s: None if s is None else str(s).encode())
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _map_user(inside: int, outside_uid: int, outside_gid: int) -> None:
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{inside} {outside_uid} 1")
    Path("/proc/self/gid_map").write_text(f"{inside} {outside_gid} 1")


def _inside(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _syscall(number: int, *args, what: str) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"sandbox: {what}: {os.strerror(err)}")
    return result


def _set_readonly(fd: int, path: bytes, flags: int, readonly: bool) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0) if readonly else _MountAttr(0, MOUNT_ATTR_RDONLY, 0, 0)
    _syscall(SYS_MOUNT_SETATTR, fd, path, flags | AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr),
             what="mount_setattr")


def _build_view(policy: dict) -> None:
    """Read-only everything, hidden paths emptied, kept paths put back, the work directory writable.

    Kept paths are cloned (open_tree) before anything is hidden and attached again (move_mount) on top of the
    empty directory that hides their parent."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _set_readonly(AT_FDCWD, b"/", 0, True)
    workdir = policy["workdir"]
    trees = {}
    for path in [*policy["keep"], workdir]:
        if os.path.isdir(path):
            trees[path] = _syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(),
                                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE, what=f"open_tree {path}")
    _set_readonly(trees[workdir], b"", AT_EMPTY_PATH, False)
    keep = [*trees]
    hidden = [h for h in policy["hide"] if os.path.lexists(h) and not os.path.islink(h)]
    # a hidden path inside another is already hidden, unless a kept path between them brings it back
    hidden = [h for h in hidden if not any(
        a != h and _inside(h, a) and not any(_inside(h, k) and _inside(k, a) for k in keep) for a in hidden)]
    for path in sorted(hidden, key=lambda p: p.count("/")):
        if not os.path.isdir(path):
            _mount("/dev/null", path, None, MS_BIND)
            continue
        size, mode = (policy["tmp_bytes"], "1777") if path == "/tmp" else (1 << 20, "0755")
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")
        deeper = [h for h in hidden if h != path and _inside(h, path)]
        for kept, fd in trees.items():
            # put back what lies in this hidden directory (unless it lies in a deeper hidden one: done there)
            if fd >= 0 and _inside(kept, path) and kept != path and not any(_inside(kept, d) for d in deeper):
                os.makedirs(kept, exist_ok=True)
                _syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, kept.encode(), MOVE_MOUNT_F_EMPTY_PATH,
                         what=f"move_mount {kept}")
                trees[kept] = -1
        if path != "/tmp":
            _mount("tmpfs", path, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    if trees[workdir] >= 0:  # not under a hidden directory: attach its writable clone on top of it
        _syscall(SYS_MOVE_MOUNT, trees[workdir], b"", AT_FDCWD, workdir.encode(), MOVE_MOUNT_F_EMPTY_PATH,
                 what="move_mount workdir")
    if policy.get("private_workdir_bytes"):
        _private_workdir(workdir, policy["private_workdir_bytes"])


MAX_SEED_BYTES = 16 << 20  # what the grader puts into a work directory (font cache, policy): copied into the tmpfs


def _private_workdir(workdir: str, size: int) -> None:
    """Replace ``workdir`` (in this mount namespace only) by a tmpfs of ``size`` bytes and at most 10,000 inodes
    holding a copy of what it held: the sandbox's disk quota. The copy is made from memory (a few small files)."""
    owner = os.stat(workdir)
    seed = []
    total = 0
    for root, dirs, files in os.walk(workdir):
        rel = os.path.relpath(root, workdir)
        seed.append((rel, None))
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            data = Path(path).read_bytes()
            total += len(data)
            if total > MAX_SEED_BYTES:
                raise OSError(errno.EFBIG, "sandbox: the work directory to copy is too large")
            seed.append((os.path.join(rel, name), data))
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={size},nr_inodes=10000,mode=0700,uid={owner.st_uid},gid={owner.st_gid}")
    for rel, data in seed:
        path = os.path.normpath(os.path.join(workdir, rel))
        if data is None:
            os.makedirs(path, exist_ok=True)
        else:
            Path(path).write_bytes(data)
        os.chown(path, owner.st_uid, owner.st_gid)


def _limit(policy: dict) -> None:
    for name, value in (("RLIMIT_CPU", policy["cpu_seconds"]), ("RLIMIT_AS", policy["memory_bytes"]),
                        ("RLIMIT_FSIZE", policy["max_file_bytes"]), ("RLIMIT_NOFILE", 256),
                        ("RLIMIT_CORE", 0)):
        resource.setrlimit(getattr(resource, name), (value, value))


def _child(policy: dict, cmd: list[str], root: bool, run=None) -> None:
    """In the new PID namespace (as its init): /proc, limits, drop privileges, exec ``cmd`` (or, from a warm
    interpreter, ``run()`` it in this process: forkserver.py)."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _limit(policy)
    if root:  # the work directory's owner (Sandbox.workdir), never root
        owner = os.stat(policy["workdir"])
        uid, gid = (owner.st_uid, owner.st_gid) if owner.st_uid != 0 else (NOBODY, NOBODY)
        os.setgroups([])
        os.setgid(gid)
        nproc = policy["max_processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        os.setuid(uid)
    else:  # a nested user namespace as a non-root user: no capability survives exec
        _unshare(CLONE_NEWUSER)
        _map_user(1000, 0, 0)
        os.setuid(1000)
    os.setpgid(0, 0)  # signals to the launcher's process group (kernel interrupts) reach it once, forwarded
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no_new_privs)")
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(pdeathsig)")
    os.chdir(policy["workdir"])
    if run is not None:
        os._exit(run())
    os.execvpe(cmd[0], cmd, os.environ)


CGROUP_PREFIX = "lablib-sandbox-"
CGROUP_LIMITS = ("memory", "pids")


def _cgroup_parents() -> dict[str, Path]:
    """controller -> this process's own cgroup directory, for the cgroup v1 controllers the sandbox limits."""
    parents = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            parent = Path("/sys/fs/cgroup", controller, path.lstrip("/"))
            if controller in CGROUP_LIMITS and (parent / "cgroup.procs").exists():
                parents[controller] = parent
    return parents


def remove_stale_cgroups() -> None:
    """Remove the cgroups of sandboxes whose launcher is gone: a launcher removes its own when its command ends,
    but not when it is killed (the grader kills a finished kernel and the verdict harness). A group whose
    launcher (the pid in its name) still runs is left alone, even if it is still empty."""
    if os.geteuid() != 0:
        return
    for parent in _cgroup_parents().values():
        for group in parent.glob(CGROUP_PREFIX + "*"):
            pid = group.name.removeprefix(CGROUP_PREFIX)
            if pid.isdigit() and Path("/proc", pid).exists():
                continue
            with contextlib.suppress(OSError):  # not empty yet: its processes are still dying
                group.rmdir()


def _join_cgroups(policy: dict) -> list[tuple[Path, Path]]:
    """Move this process (and so the whole sandbox) into fresh cgroups that bound the memory and the processes
    of all its processes together (RLIMIT_AS bounds one process only), where the machine allows it: root and
    cgroup v1's memory and pids hierarchies. Returns what ``_leave_cgroups`` needs to remove them."""
    joined = []
    if os.geteuid() != 0:
        return joined
    limits = {"memory": [("memory.limit_in_bytes", policy["memory_bytes"]),
                         ("memory.memsw.limit_in_bytes", policy["memory_bytes"])],
              "pids": [("pids.max", policy["max_processes"])]}
    remove_stale_cgroups()
    for controller, parent in _cgroup_parents().items():
        group = parent / f"{CGROUP_PREFIX}{os.getpid()}"
        try:
            group.mkdir()
            for name, value in limits[controller]:
                if (group / name).exists():
                    (group / name).write_text(str(value))
            (group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
            continue
        # opened now, before the sandbox's file system view makes /sys read-only for this process
        joined.append((group.name, os.open(parent, os.O_DIRECTORY), os.open(parent / "cgroup.procs", os.O_WRONLY)))
    return joined


def _leave_cgroups(joined) -> None:
    for name, parent_fd, parent_procs in joined:
        with contextlib.suppress(OSError):
            os.write(parent_procs, str(os.getpid()).encode())
            os.rmdir(name, dir_fd=parent_fd)


def launch(policy: dict, cmd: list[str], run=None, wait=None) -> int:
    """Run ``cmd`` in a new sandbox made as ``policy`` says; its exit code (128 + N when killed by signal N).
    A warm interpreter (forkserver.py) passes ``run``, called in the sandbox instead of exec, and ``wait``, which
    waits for the sandbox's init process (its pid) in its own way and returns its wait status."""
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    joined = _join_cgroups(policy)
    try:
        return _launch(policy, cmd, root, uid, gid, run, wait)
    finally:
        _leave_cgroups(joined)


def _launch(policy: dict, cmd: list[str], root: bool, uid: int, gid: int, run=None, wait=None) -> int:
    _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
             | (0 if root else CLONE_NEWUSER))
    if not root:
        _map_user(0, uid, gid)
    _build_view(policy)
    if not root:  # RLIMIT_NPROC counts the real user's processes: allow what it runs now plus the limit
        running = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())
        nproc = running + policy["max_processes"]
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    pid = os.fork()
    if pid == 0:
        try:
            _child(policy, cmd, root, run)
        except BaseException as exc:  # noqa: BLE001 — report anything before exec and leave
            print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    if wait is not None:
        status = wait(pid)
    else:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # interrupts (cell timeouts) reach the command
            signal.signal(sig, lambda s, _f: os.kill(pid, s))
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> int:
    parent = os.getppid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(pdeathsig)")  # dies with the grader
    if os.getppid() != parent:
        return 125
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m grading.pipeline.sandbox POLICY.json -- COMMAND...", file=sys.stderr)
        return 2
    policy = json.loads(Path(argv[0]).read_text())
    try:
        return launch(policy, argv[2:])
    except OSError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
