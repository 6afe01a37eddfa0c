"""The course server's files on the machine, laid out by ``python -m grading.hub setup`` (as root).

    <state>/                      root 0755
        settings.json             where everything is (no secret): read by jupyterhub_config.py and the servers
        initial-passwords.csv     root 0600: each account's first password, for the instructor to hand out
        hub/                      root 0700: the Hub's database, cookie secret, proxy token, log
        etc/<role>/               the Jupyter configuration of each kind of server (student, instructor, grader)
        exchange/<course>/        the nbgrader exchange (permissions below)
        course/                   the grader account's nbgrader course: solutions/, labs/, gradebook, submissions,
                                  feedback, roster.csv, .secrets/hidden_seed (grader 0700)

The exchange, without a world-writable directory (nbgrader's default is 0777 everywhere):

    exchange/<course>/             grader 0755
        outbound/<lab>/            grader 0755, files 0644: released labs, readable by everyone on the machine
        inbound/                   grader:<graders> 3773 (sticky, setgid): students create submissions but cannot
                                   list the directory nor delete another student's; each submission is created in
                                   the graders' group and made 0750/0640 by the kit's submit (exchange.py), so no
                                   other student can read, list or change it, and the graders can collect it
        feedback/                  grader 0711: nbgrader's feedback, one file per submission named by a hash of
                                   the submission's secret (unguessable); not listable
        feedback_for/<student>/    grader:<student> 2750: each student's feedback, the partner of a pair included
                                   (nbgrader's feedback reaches only the submitter); only that student can read it
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import accounts

REPO = Path(__file__).resolve().parents[2]
COURSE_ID = "optimization-and-training"   # as grading/nbgrader_config.py says


@dataclass
class Settings:
    """Everything the Hub, its servers and the kit's commands need to know; saved as <state>/settings.json."""

    state: str
    course: str = COURSE_ID
    prefix: str = ""                  # prepended to roster ids (tests: a unique prefix, so no real account collides)
    group_prefix: str = "lablib-"     # of the Unix groups and the grader account
    ip: str = "127.0.0.1"
    port: int = 8000                  # the public port (the proxy); the Hub, the proxy's API and formgrader use
    hub_port: int = 8081              # these on 127.0.0.1
    proxy_api_port: int = 8001
    formgrader_port: int = 8002
    students: list[str] = field(default_factory=list)
    tas: list[str] = field(default_factory=list)
    instructors: list[str] = field(default_factory=list)
    python: str = ""                  # the kit's environment (its bin/ has jupyterhub-singleuser)
    proxy: str = ""                   # configurable-http-proxy from the kit's local npm prefix

    @property
    def students_group(self) -> str:
        return f"{self.group_prefix}students"

    @property
    def graders_group(self) -> str:
        return f"{self.group_prefix}graders"

    @property
    def grader(self) -> str:
        return f"{self.group_prefix}grader"

    @property
    def graders(self) -> list[str]:
        return [*self.instructors, *self.tas]

    def path(self, *parts: str) -> Path:
        return Path(self.state, *parts)

    @property
    def exchange(self) -> Path:
        return self.path("exchange")

    @property
    def course_dir(self) -> Path:
        return self.path("course")

    @property
    def homes(self) -> Path:
        return self.path("home")

    def role_of(self, user: str) -> str:
        return "instructor" if user in self.instructors else "ta" if user in self.tas else "student"

    def save(self) -> None:
        self.path("settings.json").write_text(json.dumps(asdict(self), indent=1))
        os.chmod(self.path("settings.json"), 0o644)

    @classmethod
    def load(cls, state: str | os.PathLike) -> Settings:
        return cls(**json.loads(Path(state, "settings.json").read_text()))


def proxy_command() -> str:
    """configurable-http-proxy as the kit installs it (tools/system-deps.sh: npm into <repo>/.node)."""
    local = REPO / ".node" / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy") or ""


def hub_python() -> str:
    """The course server's Python: .venv-hub (made by `make hub` from a Python every account may run: the
    servers run as the students' accounts), else this one."""
    local = REPO / ".venv-hub" / "bin" / "python"
    return str(local) if local.exists() else sys.executable


def _own(path: Path, user: str, group: str | None = None, mode: int | None = None) -> None:
    os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group or user).gr_gid)
    if mode is not None:
        os.chmod(path, mode)


def setup(roster: Path, state: Path, *, prefix: str = "", group_prefix: str = "lablib-", ip: str = "127.0.0.1",
          ports: tuple[int, int, int, int] = (8000, 8081, 8001, 8002), hidden_seed_file: Path | None = None,
          labs: tuple[str, ...] | None = None) -> Settings:
    """Accounts, groups, the exchange and the grader's course directory (idempotent; run as root).

    Returns the settings (saved in <state>/settings.json). New accounts get a password in
    <state>/initial-passwords.csv; existing kit accounts keep theirs."""
    from grading.pipeline.secret import SECRET_FILE

    if os.geteuid() != 0:
        raise accounts.AccountError("the course server's set-up creates Unix accounts: run it as root")
    people = accounts.read_people(roster, prefix)
    state = Path(state).resolve()
    settings = Settings(
        state=str(state), prefix=prefix, group_prefix=group_prefix, ip=ip, port=ports[0], hub_port=ports[1],
        proxy_api_port=ports[2], formgrader_port=ports[3], python=hub_python(),
        proxy=proxy_command(),
        students=[p.name for p in people if p.role == "student"], tas=[p.name for p in people if p.role == "ta"],
        instructors=[p.name for p in people if p.role == "instructor"])
    for path, mode in ((state, 0o755), (settings.path("hub"), 0o700), (settings.homes, 0o755),
                       (settings.path("etc"), 0o755), (settings.exchange, 0o755)):
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)

    accounts.ensure_group(settings.students_group)
    accounts.ensure_group(settings.graders_group)
    accounts.ensure_user(settings.grader, settings.course, settings.homes / settings.grader,
                         [settings.graders_group], system=True)
    passwords = []
    for person in people:
        groups = [settings.students_group] if person.role == "student" else [settings.graders_group]
        if accounts.ensure_user(person.name, settings.course, settings.homes / person.name, groups):
            password = accounts.new_password()
            accounts.set_password(person.name, password)
            passwords.append((person.name, person.role, password))
    _write_passwords(settings.path("initial-passwords.csv"), passwords)

    protect_instructor_files()
    _lay_out_course(settings, roster, people, hidden_seed_file or SECRET_FILE, labs)
    _lay_out_exchange(settings)
    from .servers import write_server_config
    write_server_config(settings)
    settings.save()
    return settings


def protect_instructor_files() -> list[Path]:
    """The kit's checkout is readable by every account (the servers run its environment and import lablib), but
    its solutions, its git history (which holds them) and its secrets are not for students: 0700 (root)."""
    protected = [p for p in (REPO / "solutions", REPO / ".git", REPO / "grading" / ".secrets") if p.exists()]
    for path in protected:
        os.chmod(path, 0o700)
    return protected


def _write_passwords(path: Path, new: list[tuple[str, str, str]]) -> None:
    old = path.read_text().splitlines()[1:] if path.exists() else []
    kept = [line for line in old if line.split(",")[0] not in {name for name, _, _ in new}]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(["user,role,initial_password", *kept, *(",".join(row) for row in new)]) + "\n")
    os.chmod(path, 0o600)


def _lay_out_course(settings: Settings, roster: Path, people, seed_file: Path, labs) -> None:
    """The grader account's course: the lab sources and releases (copies), the roster with the Hub's user names,
    the hidden seed (a copy, 0600) and an nbgrader_config.py that is the repository's with this course's paths."""
    from grading.pipeline.driver import Course, complete_language_info
    from grading.pipeline.secret import hidden_seed

    course, grader = settings.course_dir, settings.grader
    course.mkdir(exist_ok=True)
    for name in ("solutions", "labs"):
        for lab in sorted((REPO / name).iterdir()):
            if lab.is_dir() and (labs is None or lab.name in labs) and not (course / name / lab.name).exists():
                shutil.copytree(lab, course / name / lab.name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    language_info = json.loads(subprocess.run(  # what the course server's kernels report (its own Python)
        [settings.python, "-c", "import json; from ipykernel.ipkernel import IPythonKernel as K; "
         "print(json.dumps(K.language_info))"], capture_output=True, text=True, check=True, timeout=60).stdout)
    for notebook in (course / "labs").glob("*/*.ipynb"):
        complete_language_info(notebook, language_info)
    with open(course / "roster.csv", "w", encoding="utf-8") as fh:
        fh.write("id,first_name,last_name,email\n")
        fh.writelines(f"{p.name},{p.first_name},{p.last_name},\n" for p in people if p.role == "student")
    secrets_dir = course / ".secrets"
    secrets_dir.mkdir(exist_ok=True)
    if not (secrets_dir / "hidden_seed").exists():
        (secrets_dir / "hidden_seed").write_text(hidden_seed(seed_file) + "\n")
    # the repository's nbgrader configuration with this course's directories, gradebook, seed and exchange
    Course.in_directory(course, roster=course / "roster.csv").write_nbgrader_config(
        before=("import os", f"os.environ.setdefault('LABLIB_HIDDEN_SEED_FILE', {str(secrets_dir / 'hidden_seed')!r})"),
        after=(f"load_subconfig({str(settings.path('etc', 'common', 'nbgrader_config.py'))!r})  # noqa: F821",))
    for path in [course, *course.rglob("*")]:
        if not path.is_symlink():
            _own(path, grader)
    os.chmod(course, 0o700)
    os.chmod(secrets_dir, 0o700)
    os.chmod(secrets_dir / "hidden_seed", 0o600)


def _lay_out_exchange(settings: Settings) -> None:
    grader, graders = settings.grader, settings.graders_group
    root = settings.exchange / settings.course
    layout = [(root, grader, 0o755), (root / "outbound", grader, 0o755),
              (root / "inbound", graders, 0o3773), (root / "feedback", grader, 0o711),
              (root / "feedback_for", grader, 0o755)]
    layout += [(root / "feedback_for" / s, s, 0o2750) for s in settings.students]  # files: the student's group
    for path, group, mode in layout:
        path.mkdir(exist_ok=True)
        _own(path, grader, group, mode)
