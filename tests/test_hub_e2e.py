"""The course server end to end, with real components: JupyterHub and configurable-http-proxy, real Unix accounts,
the nbgrader exchange, jupyter-collaboration and Debian's Chromium through Playwright.

The instructor releases lab01; two students log in and fetch it in the Assignments tab; one shares her server
with the other (python -m grading.hub.pair in her terminal, accepted on the Hub's page) and an edit typed by
each appears for the other within 2 s; both run cells (one kernel), the lab's widgets render for both without
"Trust"; they fill the answers and submit (PARTNER filled from the share); a third student can neither read nor
change the submission; the instructor collects (the pair registered from the Hub), autogrades with the kit's
pipeline, grades a written answer in formgrader (page rendered, equations typeset, no request leaves the
machine) and releases feedback; both partners open theirs.

Measured times and screenshots go to output/hub-e2e/ (what each role sees).
"""
from __future__ import annotations

import csv
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from browser import browser, browser_unavailable, hub_unavailable, jupyterhub, wait_for_kernel  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
LAB = "lab01-gradient-descent"
OUT = REPO / "output" / "hub-e2e"

ROSTER = """id,first_name,last_name,email,role
prof,Pat,Professor,,instructor
ta,Tia,Assistant,,ta
ada,Ada,Lovelace,,student
ben,Ben,Franklin,,student
cy,Cy,Young,,student
"""
COMMENT = "Right: the factor 1 - 2 eta decides, and you said why."
ANSWER = ("With $\\eta = 1$ the factor $1 - 2\\eta = -1$ makes $x_t = (-1)^t x_0$ jump forever; with "
          "$\\eta = 1000$ the factor $-1999$ makes $|x_t|$ grow: gradient descent diverges.")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    reason = hub_unavailable() or browser_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the course server must run in CI: {reason}")
        pytest.skip(reason)
    roster = tmp_path_factory.mktemp("hub") / "roster.csv"
    roster.write_text(ROSTER)
    with jupyterhub(roster, keep_log=OUT / "hub.log") as running:
        yield running


def solution_cells() -> dict[str, str]:
    """The reference answers of lab01 (what a pair that got everything right types)."""
    nb = nbformat.read(REPO / "solutions" / LAB / "lab01.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: "\n".join(
        line for line in c.source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
        for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in ("f", "df", "gradient_descent")}


def shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"))


def login(browser, hub, user: str):
    """A new browser context logged in as ``user`` on the Hub's login page; returns (context, page, seconds from
    pressing "Sign in" to JupyterLab shown)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())  # offline
    page = context.new_page()
    page.goto(hub.url("hub/login"))
    page.fill("#username_input", user)
    page.fill("#password_input", hub.passwords[user])
    start = time.monotonic()
    page.click("#login_submit")
    page.wait_for_selector("#jp-main-dock-panel .jp-Launcher, #jp-main-dock-panel .jp-NotebookPanel", timeout=120_000)
    return context, page, time.monotonic() - start


def assignments_tab(page):
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    page.click(".lm-Menu-itemLabel:text-is('Assignment List')")
    page.wait_for_selector("#released_assignments_list, #fetched_assignments_list", timeout=30_000)


def cell(page, text: str):
    """The notebook cell whose text contains ``text``."""
    return page.locator(".jp-Notebook .jp-Cell", has_text=text).first


def replace_cell_text(page, target, text: str) -> None:
    """Select everything in the cell's editor and type ``text`` (as one input, no auto-indentation)."""
    target.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def cell_text(page, text: str) -> str:
    return page.evaluate("""(text) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
        .map(c => c.textContent).find(t => t.includes(text)) || ''""", text)


def typed_appears(writer, reader, anchor: str, marker: str, timeout: float = 10) -> float:
    """Type ``marker`` at the end of the cell containing ``anchor`` in ``writer``; seconds until ``reader`` shows it."""
    target = cell(writer, anchor)
    target.locator(".cm-content").click()
    writer.keyboard.press("Control+End")
    writer.keyboard.insert_text(marker)
    start = time.monotonic()
    reader.wait_for_function("""([anchor, marker]) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
        .some(c => c.textContent.includes(anchor) && c.textContent.includes(marker))""", arg=[anchor, marker],
                             timeout=timeout * 1000, polling=20)
    return time.monotonic() - start


def open_notebook(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    wait_for_kernel(page, timeout=90_000)


def test_course_server_end_to_end(hub, browser):  # noqa: F811 (the browser fixture)
    pages = []
    try:
        scenario(hub, browser, pages)
    except BaseException:
        for i, page in enumerate(pages):  # what each browser showed when the scenario broke
            try:
                shot(page, f"failure-{i}")
            except Exception:
                pass
        raise


def render_every_cell(settings, users) -> None:
    """JupyterLab user setting: every cell of a notebook in the page (no windowing), so that the test finds the
    cells it edits by their text wherever the notebook is scrolled."""
    import pwd

    for user in users:
        account = pwd.getpwnam(user)
        path = Path(account.pw_dir, ".jupyter", "lab", "user-settings", "@jupyterlab", "notebook-extension",
                    "tracker.jupyterlab-settings")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"windowingMode": "none"}))
        for made in [path, *path.parents]:
            if made == Path(account.pw_dir):
                break
            os.chown(made, account.pw_uid, account.pw_gid)


def scenario(hub, browser, pages):
    settings = hub.settings
    prof, ta = settings.instructors[0], settings.tas[0]
    ada, ben, cy = settings.students
    render_every_cell(settings, [ada, ben])
    times = {"hub_start_seconds": round(hub.start_seconds, 2)}
    inbound = settings.exchange / settings.course / "inbound"

    # -- the instructor releases lab01 (as the grader account: what the formgrader service's terminal runs)
    released = hub.run_as(settings.grader, "python", "-m", "nbgrader", "release_assignment", LAB,
                          cwd=settings.course_dir)
    assert released.returncode == 0, released.stderr

    # -- two students log in and fetch it in the Assignments tab
    ctx_a, page_a, times["login_to_lab_seconds_ada"] = login(browser, hub, ada)
    ctx_b, page_b, times["login_to_lab_seconds_ben"] = login(browser, hub, ben)
    pages += [page_a, page_b]
    menu = page_a.evaluate("() => [...document.querySelectorAll('.lm-MenuBar-itemLabel')].map(e => e.textContent)")
    page_a.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
    student_menu = page_a.evaluate("() => [...document.querySelectorAll('.lm-Menu-itemLabel')]"
                                   ".map(e => e.textContent).filter(t => t)")
    shot(page_a, "student-nbgrader-menu")
    page_a.keyboard.press("Escape")
    assert "Nbgrader" in menu and student_menu == ["Assignment List"], student_menu  # no instructor UI
    for page in (page_a, page_b):
        assignments_tab(page)
        page.click("#released_assignments_list button:text-is('Fetch')")
        page.wait_for_selector(f"#fetched_assignments_list :text('{LAB}')", timeout=30_000)
    shot(page_a, "student-assignments-fetched")
    for student in (ada, ben):
        signed = hub.run_as(student, "python", "-c", "import nbformat, sys; from nbformat.sign import NotebookNotary; "
                            f"sys.exit(0 if NotebookNotary().check_signature(nbformat.read('{LAB}/lab01.ipynb', 4)) else 1)")
        assert signed.returncode == 0, f"{student}'s fetched lab is not trusted: {signed.stderr}"

    # -- ada shares her server with ben: the pair command in her terminal, ben accepts on the Hub's page
    page_a.click(".lm-TabBar-tab:has-text('Launcher')")
    page_a.click(".jp-LauncherCard:has-text('Terminal')")
    page_a.wait_for_selector(".jp-Terminal .xterm-screen", timeout=60_000)
    page_a.click(".jp-Terminal .xterm-screen")
    time.sleep(1)
    page_a.keyboard.type(f"python -m grading.hub.pair {ben} > pair-link.txt 2>&1\n")
    link_file = Path(settings.homes, ada, "pair-link.txt")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "accept-share" not in (link_file.read_text() if link_file.exists() else ""):
        time.sleep(0.2)
    accept = re.search(r"(/hub/accept-share\?code=\S+)", link_file.read_text())
    assert accept, link_file.read_text()
    page_b.goto(hub.url(accept.group(1)))
    shot(page_b, "partner-accept-share")
    page_b.click("button:has-text('Accept invitation')")
    # the Hub asks ben once whether ada's server may know who he is (OAuth, as for any server not his own)
    page_b.wait_for_url(re.compile("oauth2/authorize"), timeout=30_000, wait_until="commit")
    shot(page_b, "partner-authorize")
    page_b.click("form [type=submit]")
    page_b.wait_for_url(re.compile(f"/user/{ada}/"), timeout=60_000, wait_until="commit")
    assert hub.api(f"shares/{ada}")["items"][0]["user"]["name"] == ben

    # -- both in one notebook on ada's server: edits and cursors cross within 2 s, both drive one kernel
    notebook_url = hub.url(f"user/{ada}/lab/tree/{LAB}/lab01.ipynb")
    open_notebook(page_a, notebook_url)
    open_notebook(page_b, notebook_url)
    answers = solution_cells()
    times["pair_edit_seconds_ada_to_ben"] = round(typed_appears(page_a, page_b, "def f(x):", "  # ada was here"), 3)
    times["pair_edit_seconds_ben_to_ada"] = round(typed_appears(page_b, page_a, "def df(x):", "  # ben was here"), 3)
    assert times["pair_edit_seconds_ada_to_ben"] < 2 and times["pair_edit_seconds_ben_to_ada"] < 2, times
    page_a.wait_for_selector(".jp-remote-cursor, .cm-ySelectionCaret", state="attached", timeout=10_000)  # ben's
    replace_cell_text(page_a, cell(page_a, "def f(x):"), answers["f"])
    replace_cell_text(page_b, cell(page_b, "def df(x):"), answers["df"])
    replace_cell_text(page_a, cell(page_a, "def gradient_descent("), answers["gradient_descent"])
    discussion = cell(page_b, "YOUR ANSWER HERE")
    discussion.dblclick()
    replace_cell_text(page_b, discussion, ANSWER)
    page_b.keyboard.press("Control+Enter")  # render it, stay on it
    page_a.wait_for_function("(t) => document.querySelector('.jp-Notebook').textContent.includes(t)",
                             arg="jump forever", timeout=10_000)
    # ada runs everything; ben sees the checks pass and the explorers (widgets) live, without "Trust"
    page_a.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page_a.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    for page in (page_a, page_b):
        page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output .widget-slider, "
                               ".jp-OutputArea-output .jupyter-widgets.widget-container').length > 0",
                               timeout=120_000)
        assert "not implemented" not in cell_text(page, 'check("gradient_descent", gradient_descent)')
    page_b.wait_for_function("""() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
        .filter(c => c.textContent.includes('check("f", f)')).some(c => c.textContent.includes('✓'))""", timeout=60_000)
    shot(page_a, "pair-ada-notebook")
    shot(page_b, "pair-ben-notebook")
    # ben runs a cell on ada's kernel (his answer cell, now printing a marker); ada sees its output
    marker = f"ben-ran-{time.time_ns()}"
    replace_cell_text(page_b, cell(page_b, "def df(x):"), answers["df"] + f'\n\n\nprint("{marker}")')
    page_b.keyboard.press("Shift+Enter")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen = "(m) => [...document.querySelectorAll('.jp-OutputArea-output')].some(o => o.textContent.includes(m))"
    try:
        page_a.wait_for_function(seen, arg=marker, timeout=30_000)
    except PlaywrightTimeout:  # the key press can land while the editor has lost focus: the Run menu then
        cell(page_b, "def df(x):").locator(".jp-InputPrompt").click()
        page_b.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page_b.click(".lm-Menu-itemLabel:text-matches('^Run Selected Cells?$')")
        page_a.wait_for_function(seen, arg=marker, timeout=60_000)
    page_a.keyboard.press("Control+s")
    time.sleep(1.5)

    # -- ada submits in her Assignments tab; PARTNER comes from the share
    page_a.goto(hub.url(f"user/{ada}/lab"))
    page_a.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    assignments_tab(page_a)
    page_a.click(f"#fetched_assignments_list button:text-is('Submit')")
    page_a.wait_for_selector(f"#submitted_assignments_list :text('{LAB}')", timeout=60_000)
    shot(page_a, "student-submitted")
    submissions = [p for p in inbound.iterdir() if p.name.startswith(f"{ada}+{LAB}+")]
    assert len(submissions) == 1
    submitted = nbformat.read(submissions[0] / "lab01.ipynb", as_version=4)
    assert f"PARTNER = '{ben}'" in submitted.cells[0].source

    # -- a third student can neither list, read, change nor remove the submission
    attack = hub.run_as(cy, "python", "-c", f"""
import os, shutil, sys
inbound, sub = {str(inbound)!r}, {str(submissions[0])!r}
tries = {{"list inbound": lambda: os.listdir(inbound), "list submission": lambda: os.listdir(sub),
         "read notebook": lambda: open(sub + "/lab01.ipynb").read(), "read secret": lambda: open(sub + "/submission_secret.txt").read(),
         "overwrite": lambda: open(sub + "/lab01.ipynb", "w").write("{{}}"), "add file": lambda: open(sub + "/x.ipynb", "w"),
         "remove": lambda: shutil.rmtree(sub), "rename": lambda: os.rename(sub, inbound + "/{cy}+{LAB}+x")}}
done = []
for name, attempt in tries.items():
    try:
        attempt()
        done.append(name)
    except PermissionError:
        pass
print(done); sys.exit(1 if done else 0)""")
    assert attack.returncode == 0, f"{cy} could: {attack.stdout} {attack.stderr}"
    assert nbformat.read(submissions[0] / "lab01.ipynb", as_version=4).cells[0].source == submitted.cells[0].source

    # -- the instructor collects (the pair from the Hub's shares) and autogrades with the kit's pipeline
    grader_env = {"JUPYTERHUB_API_URL": f"{hub.base}/hub/api", "JUPYTERHUB_API_TOKEN": _service_token(settings)}
    collected = hub.run_as(settings.grader, "python", "-m", "grading.hub", "collect", LAB, env=grader_env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    with open(settings.course_dir / "pairs.csv") as fh:
        assert [dict(r) for r in csv.DictReader(fh)] == [
            {"lab": LAB, "student": ada, "partner": ben, "source": "jupyterhub-share"}]
    start = time.monotonic()
    graded = hub.run_as(settings.grader, "python", "-m", "grading.pipeline", "grade", LAB, "--out",
                        str(settings.course_dir), "--no-progress")
    times["autograde_seconds"] = round(time.monotonic() - start, 1)
    assert graded.returncode == 0, graded.stdout[-2000:] + graded.stderr[-2000:]
    with open(settings.course_dir / "output" / f"{LAB}-grades.csv") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    for student in (ada, ben):  # one submission, credited to both; the exercises right, the written answer waits
        assert [float(rows[student][e]) for e in ("f", "df", "gradient_descent")] == [2, 2, 4], rows[student]
        assert "needs_review" in rows[student]["flags"], rows[student]

    # -- formgrader: students are refused; the instructor grades the written answer, offline, equations typeset
    refused = page_a.goto(hub.url("services/formgrader/formgrader"))
    assert refused.status == 403, refused.status
    ctx_p, page_p, times["login_to_lab_seconds_prof"] = login(browser, hub, prof)
    pages.append(page_p)
    page_p.goto(hub.url("hub/home"))
    shot(page_p, "instructor-hub-home")
    requests, failed = [], []
    page_p.on("request", lambda request: requests.append(request.url))
    page_p.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page_p.goto(hub.url(f"services/formgrader/formgrader/manage_submissions/{LAB}"))
    page_p.wait_for_selector(f"text={ada}", timeout=60_000)
    shot(page_p, "formgrader-submissions")
    page_p.goto(hub.url(f"services/formgrader/formgrader/gradebook/{LAB}/lab01"))
    submission_link = page_p.locator("a[href*='/formgrader/submissions/']").first
    submission_link.click()
    page_p.wait_for_selector("#discussion, .nbgrader_cell", timeout=60_000)
    # the kit's formgrader pages carry equations as MathML (converted on the server: no script needed)
    page_p.wait_for_function("() => document.querySelectorAll('#notebook-container math').length > 5",
                             timeout=60_000)
    page_text = page_p.inner_text("body")
    assert "$\\eta" not in page_text and "(-1)^t" not in page_text, "equations left untypeset"
    page_p.wait_for_load_state("networkidle")  # formgrader's grades and comments are loaded, its inputs bound
    score = page_p.locator("input.score#discussion")
    score.fill("2")
    score.press("Tab")
    comment = page_p.locator("textarea#discussion-comment")
    comment.fill(COMMENT)
    comment.press("Tab")
    page_p.wait_for_timeout(2000)  # formgrader saves on change
    score.scroll_into_view_if_needed()
    page_p.evaluate("() => window.scrollBy(0, -250)")
    shot(page_p, "formgrader-manual-grading")
    outside = [u for u in requests if u.startswith(("http:", "https:", "ws")) and not u.startswith(hub.base)]
    assert outside == [], outside
    assert failed == [], failed  # every file the page asked for was there
    assert saved_grade(settings, ada) == (2, COMMENT)  # what formgrader saved, in the gradebook

    # -- feedback: publish and release; both partners open theirs
    published = hub.run_as(settings.grader, "python", "-m", "grading.pipeline", "publish", LAB, "--out",
                           str(settings.course_dir), "--no-progress")
    assert published.returncode == 0, published.stdout[-2000:] + published.stderr[-2000:]
    released_fb = hub.run_as(settings.grader, "python", "-m", "grading.hub", "release-feedback", LAB)
    assert released_fb.returncode == 0, released_fb.stdout + released_fb.stderr
    page_a.goto(hub.url(f"user/{ada}/lab"))
    page_a.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    assignments_tab(page_a)
    page_a.click("#submitted_assignments_list button:text-is('Fetch Feedback')")
    page_a.wait_for_selector("#submitted_assignments_list a:has-text('view feedback'), "
                             "#submitted_assignments_list :text('view feedback')", timeout=60_000)
    from grading.hub.servers import config_path

    fetched = hub.run_as(ben, "python", "-m", "nbgrader", "fetch_feedback", LAB,  # as in ben's terminal
                         env={"JUPYTER_CONFIG_PATH": config_path(settings, "student")})
    assert fetched.returncode == 0, fetched.stderr
    for student, page in ((ada, page_a), (ben, page_b)):
        html = sorted(Path(settings.homes, student, LAB, "feedback").glob("*/lab01.html"))
        assert html, f"{student} has no feedback"
        relative = html[-1].relative_to(Path(settings.homes, student))
        page.goto(hub.url(f"user/{student}/files/{relative}"))
        text = page.inner_text("body")
        assert COMMENT in text, text[:500]  # the grader's comment on the written answer, for both partners
        shot(page, f"feedback-{student}")
    for context in (ctx_a, ctx_b, ctx_p):
        context.close()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "times.json").write_text(json.dumps(times, indent=1))
    print(json.dumps(times, indent=1))


def saved_grade(settings, student: str, timeout: float = 20):
    """(manual score, comment) of the written answer ``discussion`` in the gradebook, once formgrader saved both."""
    from nbgrader.api import Gradebook

    deadline = time.monotonic() + timeout
    while True:
        with Gradebook(f"sqlite:///{settings.course_dir / 'gradebook.db'}") as gb:
            found = (gb.find_grade("discussion", "lab01", LAB, student).manual_score,
                     gb.find_comment("discussion", "lab01", LAB, student).manual_comment)
        if None not in found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _service_token(settings) -> str:
    from grading.hub.servers import service_token

    return service_token(settings)
