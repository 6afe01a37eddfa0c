"""Pairs on the course server: one student shares their server with their partner through JupyterHub's sharing.

    python -m grading.hub.pair PARTNER      (in the student's terminal on the Hub)

creates a share code for the student's server (only PARTNER's acceptance turns it into access: the partner
opens the printed link while logged in and presses Accept). Both then work in the same notebook (jupyter-
collaboration), and the submission from the owner's server names the partner (``PARTNER`` filled by the
exchange's submit from the share, exchange.SecureSubmit).

Pair registration for grading (``register_pairs``, run by the grader at collect time): every share of a
student's server with another student, read from the Hub, is registered in the course's pairs file
(``<course>/pairs.csv``, grading/pipeline/pairs.py ``register_pair``) with the source ``jupyterhub-share``::

    lab,student,partner,source
    lab01-gradient-descent,ada,ben,jupyterhub-share

``student`` is the owner of the server (who submits), ``partner`` the student it was shared with; a share is a
pair both sides agreed to (the owner created the code, the partner accepted it). Only shares between two
students on the roster are registered, each once. The pair rule (grading/pipeline/pairs.py) decides what counts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

def hub_api(path: str, method: str = "GET", body: dict | None = None, *, url: str | None = None,
            token: str | None = None, timeout: float = 10):
    """A call of the Hub's REST API with this server's (or service's) token from the environment."""
    url = (url or os.environ["JUPYTERHUB_API_URL"]).rstrip("/")
    request = urllib.request.Request(f"{url}/{path.lstrip('/')}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token or os.environ['JUPYTERHUB_API_TOKEN']}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def shared_with(owner: str, **hub) -> list[str]:
    """The users ``owner``'s servers are shared with (users, not groups)."""
    return sorted({s["user"]["name"] for s in hub_api(f"shares/{owner}", **hub).get("items", []) if s.get("user")})


def partner_from_hub() -> str:
    """The partner of the student whose server this is: the one user the server is shared with, else ''."""
    if not os.environ.get("JUPYTERHUB_API_TOKEN") or not os.environ.get("JUPYTERHUB_USER"):
        return ""
    try:
        users = shared_with(os.environ["JUPYTERHUB_USER"])
    except (OSError, ValueError, KeyError):
        return ""
    return users[0] if len(users) == 1 else ""


def fill_partner(notebook: Path, partner: str) -> bool:
    """Write ``PARTNER = "<partner>"`` into the notebook's ``PARTNER = ""`` cell; False when it names someone."""
    import ast

    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PARTNER" for t in node.targets):
                if not (isinstance(node.value, ast.Constant) and node.value.value == ""):
                    return False  # the students wrote a partner themselves: theirs stands
                lines = cell.source.splitlines()
                lines[node.lineno - 1] = f"PARTNER = {partner!r}"
                cell.source = "\n".join(lines)
                nbformat.write(nb, notebook)
                return True
    return False


def create_share_code(owner: str, server: str = "", **hub) -> dict:
    return hub_api(f"share-codes/{owner}/{server}", "POST", {}, **hub)


def register_pairs(course_dir: Path, lab: str, students: list[str], **hub) -> Path:
    """Register in ``<course>/pairs.csv`` every pair the Hub's shares say (format: module docstring); returns
    the file's path."""
    from grading.pipeline.pairs import read_pairs, register_pair

    roster = set(students)
    path = Path(course_dir, "pairs.csv")
    known = {(student, partner) for student, partner, _ in read_pairs(path, lab)}
    for owner in sorted(roster):
        for partner in shared_with(owner, **hub):
            if partner in roster and partner != owner and (owner, partner) not in known:
                register_pair(path, lab, owner, partner, "jupyterhub-share")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.hub.pair", description=__doc__.split("\n\n")[0])
    parser.add_argument("partner", help="your partner's user name on the Hub")
    args = parser.parse_args(argv)
    owner = os.environ.get("JUPYTERHUB_USER")
    if not owner:
        parser.error("run this in a terminal of your server on the course Hub")
    if args.partner == owner:
        parser.error("your partner is someone else")
    code = create_share_code(owner)
    hub_origin = os.environ.get("JUPYTERHUB_PUBLIC_HUB_URL", "").split("/hub/")[0].rstrip("/")
    print(f"Send this link to {args.partner}; it works once they log in and press Accept "
          f"(valid until {code['expires_at']}):\n\n    {hub_origin}{code['accept_url']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
