"""The per-installation secret seed of the hidden tests (grading/.secrets/hidden_seed, never committed)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILE = Path(__file__).resolve().parent.parent / ".secrets" / "hidden_seed"


def hidden_seed(path: Path | None = None) -> str:
    """The seed (a decimal integer string), created with ``secrets`` the first time it is needed.

    ``$LABLIB_HIDDEN_SEED_FILE`` names another file: the course server's grader account keeps its copy in its
    own course directory (grading/hub/course.py), since it cannot read the repository's grading/.secrets/."""
    path = Path(path or os.environ.get("LABLIB_HIDDEN_SEED_FILE") or SECRET_FILE)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # written in full under a temporary name, then linked into place: a concurrent first use (two
        # graders, parallel tests) either wins or reads the winner's seed, never a half-written file
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{secrets.randbits(63)}\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def student_seed(secret: str, lab: str, student: str, exercise: str) -> int:
    """The seed of one student's hidden cases of one exercise: HMAC-SHA256(secret, "lab|student|exercise"), its
    first 63 bits. Every student (every pair: ``grading_id``) gets hidden cases of their own, so a student who
    finds theirs (in a message, by probing) learns nothing about anyone else's; without the secret, the seeds of
    others cannot be computed. The same submission graded again gets the same cases (reproducible grades)."""
    import hashlib
    import hmac

    message = "|".join((lab, student, exercise)).encode()
    digest = hmac.new(str(secret).encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def grading_id(student: str, partner: str = "") -> str:
    """Whose hidden cases a submission gets: the student's id, or one id for a pair ("alice+bob", sorted), the
    same whichever partner handed the notebook in."""
    from .names import valid_student_id

    if partner and partner != student and valid_student_id(partner):
        return "+".join(sorted((student, partner)))
    return student
