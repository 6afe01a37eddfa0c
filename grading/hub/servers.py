"""What runs on the course server besides the Hub: each user's JupyterLab, and formgrader as a Hub service.

Three kinds of server, each with its own Jupyter configuration directory <state>/etc/<kind>/ (first on
JUPYTER_CONFIG_PATH, then <state>/etc/common/, which sets the course id, the exchange and the kit's exchange
classes for everyone):

    student      JupyterLab, ipywidgets, jupyter-collaboration and nbgrader's Assignments tab (fetch, submit,
                 feedback); nbgrader's instructor UI (Create Assignment, Formgrader, Courses) is switched off,
                 in the browser (page_config.json) and in the server (its formgrader handlers are not loaded)
    instructor   the same plus Create Assignment (author solutions/ in a copy of the repository)
    grader       the shared grader account, run by the Hub as the service ``formgrader`` for the graders group
                 (instructors and TAs): nbgrader's formgrader and a JupyterLab in the course directory, as the
                 grader account, opened at /services/formgrader/ (Hub home page -> Services -> formgrader)

Formgrader is opened as a page of its own, never inside JupyterLab's iframe: JupyterHub (>= 4.1) serves
every server with ``Content-Security-Policy: frame-ancestors 'none'`` so that a student's page on the same
origin cannot frame and drive a grader's session (nbgrader #1870; nbgrader reverted its 'self' override for
that reason). The kit keeps that protection and switches JupyterLab's Formgrader menu entry (the iframe) off.

Equations in formgrader's submission pages are MathML written on the server by the kit's hardened formgrade
template (grading/pipeline/formgrader_safety.py, installed by grading/nbgrader_config.py): no MathJax, no CDN,
no script from any page a student wrote.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .course import REPO, Settings

NBGRADER_LAB = "@jupyter/nbgrader"
INSTRUCTOR_UI = ("create-assignment", "formgrader", "course-list")
SERVICE_PREFIX = "/services/formgrader/"

COMMON_NBGRADER_CONFIG = '''\
# Written by `python -m grading.hub setup` (grading/hub/servers.py); set-up rewrites it.
import sys
if {repo!r} not in sys.path:
    sys.path.insert(0, {repo!r})  # the kit's exchange classes (grading/hub/exchange.py)
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course!r}
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = False
c.ExchangeFactory.release_assignment = "grading.hub.exchange.SecureReleaseAssignment"
c.ExchangeFactory.collect = "grading.hub.exchange.SecureCollect"
c.ExchangeFactory.list = "grading.hub.exchange.SecureList"
c.ExchangeFactory.release_feedback = "grading.hub.exchange.SecureReleaseFeedback"
c.ExchangeFactory.submit = "grading.hub.exchange.SecureSubmit"
c.ExchangeFactory.fetch_assignment = "grading.hub.exchange.SigningFetchAssignment"
c.ExchangeFactory.fetch_feedback = "grading.hub.exchange.MailboxFetchFeedback"
'''


def kind_of(settings: Settings, user: str) -> str:
    return "instructor" if user in settings.instructors else "student"


def write_server_config(settings: Settings) -> None:
    etc = settings.path("etc")
    disabled = {
        "student": INSTRUCTOR_UI,
        "instructor": ("formgrader", "course-list"),     # formgrader: the shared grader service
        "grader": ("formgrader", "course-list"),         # the iframe would be blank: formgrader opens as a page
    }
    server_extensions = {
        "student": {"nbgrader.server_extensions.formgrader": False,
                    "nbgrader.server_extensions.course_list": False},
        "instructor": {"nbgrader.server_extensions.formgrader": False,
                       "nbgrader.server_extensions.course_list": False},
        "grader": {"nbgrader.server_extensions.course_list": False},
    }
    for kind, plugins in disabled.items():
        (etc / kind / "labconfig").mkdir(parents=True, exist_ok=True)
        (etc / kind / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {f"{NBGRADER_LAB}:{p}": True for p in plugins}}, indent=1))
        server = {"ServerApp": {"jpserver_extensions": server_extensions[kind],
                                # a terminal keeps the server's PATH (the course's environment first): a login
                                # shell would take Debian's /etc/profile PATH instead
                                "terminado_settings": {"shell_command": ["/bin/bash"]}}}
        (etc / kind / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))
    (etc / "common").mkdir(parents=True, exist_ok=True)
    (etc / "common" / "nbgrader_config.py").write_text(COMMON_NBGRADER_CONFIG.format(
        repo=str(REPO), course=settings.course, exchange=str(settings.exchange)))
    for path in [etc, *etc.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    _no_news(Path(settings.python).parent.parent / "share" / "jupyter" / "lab" / "settings" / "overrides.json")


def _no_news(overrides: Path) -> None:
    """JupyterLab's default settings in the course server's environment: no "official Jupyter news" question
    (a class server fetches nothing from the internet on its users' behalf)."""
    overrides.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(overrides.read_text()) if overrides.exists() else {}
    current.setdefault("@jupyterlab/apputils-extension:notification", {}).update(
        {"fetchNews": "false", "checkForUpdates": False})
    overrides.write_text(json.dumps(current, indent=1))
    overrides.chmod(0o644)


def config_path(settings: Settings, kind: str) -> str:
    return f"{settings.path('etc', kind)}:{settings.path('etc', 'common')}"


def service_token(settings: Settings) -> str:
    """The formgrader service's Hub token (<state>/hub/formgrader_token, root only; the service gets it in its
    environment, e.g. for grading.hub.pair.register_pairs)."""
    path = settings.path("hub", "formgrader_token")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(os.urandom(32).hex())
    return path.read_text().strip()


def formgrader_service(settings: Settings) -> dict:
    """The shared grader account's server, run and proxied by the Hub at /services/formgrader/."""
    bin_dir = Path(settings.python).parent
    return {
        "api_token": service_token(settings),
        "name": "formgrader",
        "url": f"http://127.0.0.1:{settings.formgrader_port}",
        "command": [str(bin_dir / "jupyterhub-singleuser"), f"--ServerApp.root_dir={settings.course_dir}"],
        "user": settings.grader,
        "cwd": str(settings.course_dir),
        "display": True,
        "oauth_no_confirm": True,
        "environment": {
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
            "JUPYTER_CONFIG_PATH": config_path(settings, "grader"),
            "LABLIB_HUB_STATE": settings.state,
            "LABLIB_HIDDEN_SEED_FILE": str(settings.course_dir / ".secrets" / "hidden_seed"),
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(REPO),  # python -m grading.pipeline / grading.hub in the grader's terminal
        },
    }
