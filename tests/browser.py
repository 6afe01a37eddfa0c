"""Real-browser tests: Debian's Chromium driven by the PyPI ``playwright`` package, and a real JupyterLab server.

Nothing is downloaded: the browser is ``/usr/bin/chromium`` (tools/system-deps.sh installs it as root; without
it the browser tests skip, saying why). Every server a test starts keeps its state in temporary directories,
listens on 127.0.0.1 only, is bounded in time and is stopped afterwards.

    def test_x(browser, tmp_path):
        with jupyter_lab(tmp_path / "jl", root=REPO) as lab:
            page = browser.new_page()
            page.goto(lab.url("lab/tree/labs/lab01-gradient-descent/lab01.ipynb", reset=True))
            wait_for_kernel(page)
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def browser_unavailable() -> str | None:
    """None when Chromium and Playwright are usable here, else why not."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian package chromium; tools/system-deps.sh installs it as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for the module (each test opens its own context or page)."""
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(state: Path, **extra) -> dict:
    """The environment of a Jupyter server whose settings, runtime files and caches all live under ``state``
    (nothing is written to $HOME); the news notification is off so it never covers the page."""
    dirs = {name: state / name.lower() for name in (
        "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR",
        "JUPYTER_DATA_DIR", "IPYTHONDIR", "MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    notification = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "PYTHONUNBUFFERED": "1"}
    env.pop("JUPYTER_PATH", None)
    return {**env, **extra}


@dataclass
class Server:
    base: str
    token: str
    process: subprocess.Popen
    log: Path

    def url(self, path: str = "", reset: bool = False) -> str:
        query = ("reset&" if reset else "") + f"token={self.token}"
        return f"{self.base}/{path.lstrip('/')}?{query}"

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        request = urllib.request.Request(f"{self.base}/api/{path.lstrip('/')}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


def wait_until(ready, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            break
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise TimeoutError(f"{what} not ready within {timeout:g} s\n{tail}")


@contextmanager
def jupyter_lab(state: Path, root: Path, *, args=(), env: dict | None = None, timeout: float = 60):
    """A JupyterLab server on 127.0.0.1 serving ``root``, all its state under ``state``; stopped on exit."""
    state = Path(state)
    state.mkdir(parents=True, exist_ok=True)
    port, token = free_port(), secrets.token_hex(16)
    log = state / "server.log"
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True", "--ServerApp.open_browser=False",
           f"--ServerApp.root_dir={root}", *args]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=root, env={**isolated_env(state), **(env or {})}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", token, process, log)
    try:
        wait_until(lambda: server.api("status") is not None, timeout, "JupyterLab", process, log)
        yield server
    finally:
        stop(process)
        shutil.rmtree(state / "jupyter_runtime_dir", ignore_errors=True)


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=grace)


def wait_for_kernel(page, timeout: float = 60_000) -> None:
    """Until the notebook's kernel is attached and idle (the indicator reads idle before a kernel exists)."""
    page.wait_for_function(
        """() => {
            const name = document.querySelector('.jp-KernelName, .jp-Toolbar-kernelName');
            const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const text = name ? name.textContent.trim() : '';
            return text && text !== 'No Kernel' && status && status.getAttribute('data-status') === 'idle';
        }""", timeout=timeout)


# ---------------------------------------------------------------------------------------------------------
# The course server (grading/hub/): JupyterHub, its proxy and real Unix accounts, for a test

def hub_unavailable() -> str | None:
    """None when the course server can start here, else why not."""
    from grading.hub.course import hub_python, proxy_command

    if os.geteuid() != 0:
        return "the course server creates Unix accounts and runs servers as them: it needs root"
    if not proxy_command():
        return "configurable-http-proxy is missing (tools/system-deps.sh installs it with npm into .node/)"
    python = hub_python()
    if python == sys.executable:
        return ".venv-hub is missing (make .venv-hub/.installed: the servers' environment, runnable by every account)"
    return None


@dataclass
class Hub:
    base: str
    settings: object            # grading.hub.course.Settings
    passwords: dict
    process: subprocess.Popen
    log: Path
    start_seconds: float

    def url(self, path: str = "") -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def api(self, path: str, method: str = "GET", body: dict | None = None, token: str | None = None):
        from grading.hub.pair import hub_api
        from grading.hub.servers import service_token

        return hub_api(path, method, body, url=f"{self.base}/hub/api", token=token or service_token(self.settings))

    def run_as(self, user: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
        """A command as ``user`` (runuser), in the course server's environment, with that account's HOME."""
        import pwd

        home = pwd.getpwnam(user).pw_dir
        bin_dir = str(Path(self.settings.python).parent)
        base = {"HOME": home, "USER": user, "PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT),
                "LABLIB_HUB_STATE": self.settings.state, "LANG": "C.UTF-8"}
        return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in {**base, **(env or {})}.items()),
                               *args], cwd=cwd or home, capture_output=True, text=True, timeout=timeout)


REPO_ROOT = Path(__file__).resolve().parents[1]


def _processes_of(uids: set[int]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@contextmanager
def jupyterhub(roster: Path, *, timeout: float = 90, labs: tuple[str, ...] = ("lab01-gradient-descent",),
               keep_log: Path | None = None):
    """The course server, set up for ``roster`` with accounts of a test-unique prefix (no real account can
    collide), its state (database, cookie secret, proxy token, exchange, course) in a new directory; on exit the
    Hub and every server are stopped, and the accounts, groups and directory removed (the Hub's log is copied to
    ``keep_log`` first)."""
    import csv
    import pwd
    import tempfile

    from grading.hub.__main__ import hub_command, remove
    from grading.hub.course import setup

    prefix = f"lt{secrets.token_hex(3)}-"
    state = Path(tempfile.mkdtemp(prefix="lablib-hub-test-", dir="/tmp"))
    os.chmod(state, 0o755)  # the accounts reach their homes, the exchange and the environment through it
    ports = [free_port() for _ in range(4)]
    settings = None
    process = None
    try:
        settings = setup(roster, state / "srv", prefix=prefix, group_prefix=prefix, ports=tuple(ports), labs=labs)
        with open(settings.path("initial-passwords.csv")) as fh:
            passwords = {row["user"]: row["initial_password"] for row in csv.DictReader(fh)}
        cmd, env = hub_command(settings)
        log = state / "hub.log"
        start = time.monotonic()
        with open(log, "wb") as out:
            process = subprocess.Popen(cmd, env=env, cwd=settings.path("hub"), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        hub = Hub(f"http://127.0.0.1:{settings.port}", settings, passwords, process, log, 0.0)

        def ready():
            with urllib.request.urlopen(hub.url("hub/api/"), timeout=5) as response:
                return response.status == 200
        wait_until(ready, timeout, "JupyterHub", process, log)
        hub.start_seconds = time.monotonic() - start
        yield hub
    finally:
        if process is not None:
            stop(process, grace=30)  # the Hub stops every server it started (cleanup_servers)
        if settings is not None:
            uids = set()
            for name in [*settings.students, *settings.graders, settings.grader]:
                try:
                    uids.add(pwd.getpwnam(name).pw_uid)
                except KeyError:
                    pass
            for pid in _processes_of(uids):  # a server the Hub could not stop: the test's own accounts only
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
            remove(settings)
        if keep_log is not None and (state / "hub.log").exists():
            keep_log.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(state / "hub.log", keep_log)
        shutil.rmtree(state, ignore_errors=True)
