"""Input -> new plot in Chromium: each lablib.widgets explorer in a real JupyterLab, its first slider moved with the
keyboard (one step per key press, as a student does), timed in the page from the key event to the new picture.

Needs Debian's chromium and the playwright package (tests/browser.py). Prints the median of 20 moves per explorer.
Run: ``python bench/bench_explorers_browser.py`` (not part of ``make bench``: it starts a Jupyter server and a
browser, about a minute).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from browser import CHROMIUM, CHROMIUM_ARGS, browser_unavailable, jupyter_lab, wait_for_kernel  # noqa: E402

MOVES = 20
EXPLORERS = {
    "gd_explorer": "widgets.gd_explorer(lr=0.1)",
    "gd2d_explorer": "widgets.gd2d_explorer(lr=0.05)",
    "optimizer_paths_explorer": "widgets.optimizer_paths_explorer(lr=0.05)",
    "sgd_batch_explorer": "widgets.sgd_batch_explorer()",
    "schedule_explorer": "widgets.schedule_explorer()",
    "activation_explorer": "widgets.activation_explorer()",
    "dropout_explorer": "widgets.dropout_explorer()",
}

# In the page: the time from the key event to the moment the explorer's <img> shows a new picture.
MOVE = """async ({index, key}) => {
    const box = document.querySelectorAll('.lablib-explorer')[index];
    const img = box.querySelector('img');
    const before = img.src;
    let t0 = null;
    const mark = () => { t0 = performance.now(); };
    document.addEventListener('keydown', mark, {capture: true, once: true});
    const changed = new Promise((resolve) => {
        const observer = new MutationObserver(() => {
            if (img.src !== before) { observer.disconnect(); resolve(performance.now()); }
        });
        observer.observe(img, {attributes: true, attributeFilter: ['src']});
        setTimeout(() => { observer.disconnect(); resolve(null); }, 10000);
    });
    window.__lablibMove = changed.then((t1) => (t1 === null || t0 === null) ? null : t1 - t0);
    return true;
}"""


def main() -> int:
    reason = browser_unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root, state = Path(tmp) / "root", Path(tmp) / "state"
        root.mkdir()
        cells = [nbformat.v4.new_code_cell("from lablib import widgets")]
        cells += [nbformat.v4.new_code_cell(f"{name} = {code}\n{name}") for name, code in EXPLORERS.items()]
        nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}}), root / "explorers.ipynb")
        with jupyter_lab(state, root) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(server.url("lab/tree/explorers.ipynb", reset=True))
                wait_for_kernel(page, 120_000)
                page.locator(".jp-Notebook .jp-Cell").first.click()
                page.keyboard.press("Escape")
                for _ in cells:
                    page.keyboard.press("Shift+Enter")
                    page.wait_for_timeout(200)
                try:
                    page.wait_for_function(f"() => document.querySelectorAll('.lablib-explorer img[src]').length "
                                           f">= {len(EXPLORERS)}", timeout=180_000)
                except Exception:
                    page.screenshot(path=str(Path(tempfile.gettempdir()) / "bench_explorers_browser.png"))
                    raise
                print(f"lablib.widgets in Chromium (JupyterLab): key press -> new picture, median of {MOVES} moves")
                print(f"{'explorer':<28} {'median ms':>10} {'max ms':>8}")
                for index, name in enumerate(EXPLORERS):
                    handle = page.locator(".lablib-explorer").nth(index).locator(".noUi-handle").first
                    handle.scroll_into_view_if_needed()
                    times = []
                    for move in range(MOVES + 1):
                        key = "ArrowRight" if (move // 3) % 2 == 0 else "ArrowLeft"
                        page.evaluate(MOVE, {"index": index, "key": key})
                        handle.focus()
                        page.keyboard.press(key)
                        elapsed = page.evaluate("() => window.__lablibMove")
                        if move and elapsed is not None:  # the first move warms up
                            times.append(elapsed)
                    if times:
                        print(f"{name:<28} {statistics.median(times):>10.1f} {max(times):>8.1f}")
                    else:
                        print(f"{name:<28} no new picture seen")
                print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a loaded machine inflates "
                      "these times)")
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
