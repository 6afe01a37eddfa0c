"""Names that come from students: student ids (they are directory names) and safe text for any student-chosen
name (file names, PARTNER values) in notes, CSV cells and HTML."""
from __future__ import annotations

import re

STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def valid_student_id(name) -> bool:
    """1-64 of ``A-Z a-z 0-9 . _ @ -``, starting with a letter or digit, without ``..``: a directory name that is
    never hidden, never a path trick and never a glob pattern (nbgrader globs with the id)."""
    return isinstance(name, str) and bool(STUDENT_ID.fullmatch(name)) and ".." not in name


def shown(name: str, limit: int = 60) -> str:
    """``name`` as inert text, in single quotes: ASCII letters, digits and ``._-@`` and space as they are, anything
    else escaped (``\\x2f``, ``\\u202e``), at most ``limit`` characters (then ``...``). No markup, no control or
    bidirectional character, no quote survives."""
    out = []
    for ch in name[:limit]:
        code = ord(ch)
        out.append(ch if ch.isascii() and (ch.isalnum() or ch in "._-@ ") else
                   f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "'" + "".join(out) + ("..." if len(name) > limit else "") + "'"
