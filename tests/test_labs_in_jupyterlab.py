"""A released lab opened in JupyterLab (real server, real Chromium) stays as it was on disk: with the kernel's full
language_info the kernel's connection changes nothing, so neither autosave nor jupyter-collaboration rewrites it;
with nbgrader's bare ``{"name": "python"}`` it is rewritten (what students saw in labs/ before)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from browser import browser, jupyter_lab, wait_for_kernel  # noqa: F401

from grading.pipeline.driver import complete_language_info

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labs" / "lab01-gradient-descent" / "lab01.ipynb"


def test_opening_a_released_lab_leaves_the_file_alone(browser, tmp_path):  # noqa: F811
    root = tmp_path / "labs"
    root.mkdir()
    shutil.copyfile(LAB, root / "complete.ipynb")
    complete_language_info(root / "complete.ipynb")            # this Python's kernel, as generate writes it
    bare = json.loads(LAB.read_text())
    bare["metadata"]["language_info"] = {"name": "python"}     # what nbgrader alone writes
    (root / "bare.ipynb").write_text(json.dumps(bare, indent=1))
    before = {name: (root / name).read_bytes() for name in ("complete.ipynb", "bare.ipynb")}
    with jupyter_lab(tmp_path / "jl", root=root) as lab:
        for name in before:
            page = browser.new_page()
            page.goto(lab.url(f"lab/tree/{name}", reset=True))
            wait_for_kernel(page)
            time.sleep(3)  # jupyter-collaboration saves a changed document within about a second
            page.close()
    assert (root / "complete.ipynb").read_bytes() == before["complete.ipynb"]
    assert (root / "bare.ipynb").read_bytes() != before["bare.ipynb"], "the control: a bare language_info is rewritten"
