"""The student's first screen, in a real JupyterLab in Debian's Chromium: "Run All" on the untouched lab01 stops at
the first check with the message alone (no traceback through lablib or IPython); once the exercise is written, the
check passes in one line, and a correct gradient descent's check does not report the overflow its own diverging
case provokes."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

from browser import browser, jupyter_lab, wait_for_kernel  # noqa: F401  (browser: the fixture)

REPO = Path(__file__).resolve().parents[1]
LAB01 = REPO / "labs" / "lab01-gradient-descent" / "lab01.ipynb"

NOT_IMPLEMENTED = ("f: not implemented yet — replace `raise NotImplementedError()` in the exercise cell with your "
                   "code")
F = "def f(x):\n    return x * x"
GD = ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
      "    for _ in range(n_steps):\n        g = grad(xs[-1])\n        if tol is not None and np.linalg.norm(g) < tol:\n"
      "            break\n        xs.append(xs[-1] - lr * g)\n    return np.array(xs)")


def code_cell(page, first_line: str):
    """The notebook's code cell whose source starts with ``first_line``."""
    cell = page.locator(".jp-CodeCell").filter(
        has=page.locator(".cm-line").first.filter(has_text=first_line)).first
    cell.scroll_into_view_if_needed()
    return cell


def run_all(page):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def replace_source_and_run(page, cell, source: str):
    """Type ``source`` over the cell's source (as a paste: no auto-indentation) and run it with Shift+Enter."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)
    page.keyboard.press("Shift+Enter")


def output_text(cell, timeout=30_000) -> str:
    """The cell's first output's text, once it has any. Its DOM text, not the rendered one: JupyterLab skips
    rendering the cells scrolled out of view (Run All scrolls along), whose rendered text is then empty."""
    output = cell.locator(".jp-OutputArea-output").first
    output.wait_for(state="attached", timeout=timeout)
    deadline = time.monotonic() + timeout / 1000
    while not (output.text_content() or "").strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    return output.text_content() or ""


def test_first_screen_of_lab01(browser, tmp_path):  # noqa: F811
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(LAB01, root / "lab01.ipynb")
    with jupyter_lab(tmp_path / "state", root=root) as lab:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(lab.url("lab/tree/lab01.ipynb", reset=True))
        wait_for_kernel(page)

        run_all(page)  # the untouched lab: it stops at the first check
        check_f = code_cell(page, 'check("f", f)')
        text = output_text(check_f)
        assert text.splitlines()[0] == NOT_IMPLEMENTED
        assert text.strip() == NOT_IMPLEMENTED  # the message alone: no traceback, no lablib or IPython frame
        assert check_f.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 1
        page.wait_for_function("() => document.querySelector('.jp-Notebook-ExecutionIndicator')"
                               ".getAttribute('data-status') === 'idle'")
        check_df = code_cell(page, 'check("df", df)')
        assert check_df.locator(".jp-OutputArea-output").count() == 0  # Run All stopped at the failed check
        page.screenshot(path=str(tmp_path / "failed-check.png"))

        replace_source_and_run(page, code_cell(page, "def f(x):"), F)
        page.keyboard.press("Shift+Enter")  # the check cell, selected next
        text = output_text(code_cell(page, 'check("f", f)'))
        assert text.strip() == "✓ f: 5 public checks passed (all 5 cases) — hidden cases run when your lab is graded"

        replace_source_and_run(page, code_cell(page, "def gradient_descent("), GD)
        page.keyboard.press("Shift+Enter")
        text = output_text(code_cell(page, 'check("gradient_descent", gradient_descent)'))
        assert text.strip() == ("✓ gradient_descent: 9 public checks passed (all 9 cases) — hidden cases run when "
                                "your lab is graded")  # the diverging case's overflow is expected: no note
        page.screenshot(path=str(tmp_path / "passed-checks.png"))
        page.close()
