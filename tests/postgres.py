"""A throw-away PostgreSQL server for tests (the ``postgres_url`` fixture, conftest.py): Debian's ``postgresql``
binaries (/usr/lib/postgresql/<version>/bin), ``initdb`` on a new temporary directory, the server on a free port
of 127.0.0.1 with its socket in that directory, a superuser with a random password, one database; stopped and
removed afterwards. PostgreSQL refuses to run as root: as root, the server runs as ``nobody``, owning only that
directory."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "lablib"


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if
                   p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def unavailable() -> str | None:
    if postgres_bin() is None:
        return "PostgreSQL is not installed (Debian package postgresql: tools/system-deps.sh installs it)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server(database: str = "gradebook", timeout: float = 60):
    """Yield the SQLAlchemy URL (psycopg 3) of a new database on a new server."""
    bin_dir = postgres_bin()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "nobody", "--"] if as_root else []
    top = Path(tempfile.mkdtemp(prefix="lablib-pg-"))   # in /tmp, which nobody can reach (not pytest's 0700 tree)
    data, password = top / "data", secrets.token_hex(16)
    port = _free_port()
    try:
        (top / "pwfile").write_text(password + "\n")
        if as_root:
            shutil.chown(top, "nobody", "nogroup")
            shutil.chown(top / "pwfile", "nobody", "nogroup")
        run = dict(check=True, capture_output=True, timeout=timeout, cwd=top)
        subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
                        f"--pwfile={top / 'pwfile'}", "-E", "UTF8", "--locale=C.UTF-8"], **run)
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(top / "server.log"), "-w",
                        "-t", str(int(timeout)), "-o",
                        f"-p {port} -k {top} -c listen_addresses=127.0.0.1 -c fsync=off", "start"], **run)
        try:
            import psycopg

            with psycopg.connect(host="127.0.0.1", port=port, user=USER, password=password, dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            yield f"postgresql+psycopg://{USER}:{password}@127.0.0.1:{port}/{database}"
        finally:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=timeout, cwd=top)
    except subprocess.CalledProcessError as exc:
        log = (top / "server.log").read_text(errors="replace")[-2000:] if (top / "server.log").exists() else ""
        raise RuntimeError(f"{exc.cmd[len(prefix)]} failed: {exc.stderr.decode(errors='replace')[-2000:]}\n{log}")
    finally:
        shutil.rmtree(top, ignore_errors=True)
