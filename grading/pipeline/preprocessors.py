"""nbgrader preprocessors of the course's autograding (configured in grading/nbgrader_config.py).

Autograde, sanitizing step (before execution):
    RebuildFromSource   the notebook to grade is the source notebook plus the student's answers (see rebuild.py),
                        so deleted, edited or re-tagged test cells and tampered metadata cannot change the grading;
                        the lab's plain code cells (experiments) are not run unless run_experiments is set; the
                        submission's static tamper report (tamper.py) is kept for the grader.
    OverwriteCellsAtOnce nbgrader's OverwriteCells with the notebook's source and graded cells read at once.
Autograde, grading step:
    StartTrustedVerdict (verdict.py) starts the grader's own run of every check, which goes on during the next step.
    GradingExecute      nbgrader's Execute with the kernel in the sandbox (sandbox.py), a per-cell timeout, a
                        per-notebook time budget, an output cap, and recovery from a dying kernel (restart, re-run
                        the cells above, carry on). Whatever happens, every cell gets outputs and the run finishes.
                        While the grader's own checks run, the kernel skips the test cells whose kernel result they
                        ignore (hidden checks only, quiz cells: verdict.kernel_blind).
    StderrIsNotAnError  nbgrader gives 0 to a test cell with any stderr output; a correct answer that prints a
                        warning must not lose points, so stderr in a test cell without an error is kept as text.
    TrustedVerdict      (verdict.py) every check cell's outputs become the grader's own verdict.
    SaveAutoGradesAtOnce nbgrader's SaveAutoGrades with the submission's rows read at once and one commit.
Release (generate_assignment):
    QuizAnswerStubs     nbgrader's ClearSolutions, except that a quiz answer cell (grade id ``quiz_qN``) becomes
                        ``qN = None  # YOUR ANSWER HERE`` instead of ``raise NotImplementedError()``.
Feedback:
    HideHiddenTests     removes from the feedback the hidden-test source, the tracebacks of hidden-test cells and
                        the values of a failed hidden case (only which case failed and the known-mistake hint
                        remain), and puts the grading notes (timeouts, restored cells, ...) at the top.
    GetGradesAtOnce     nbgrader's GetGrades with the submission's grades and comments read at once.

What each step noticed is recorded in the notebook metadata under ``lablib_grading``: ``notes`` (sentences for
people) and ``flags`` (codes for the export: timeout, kernel_died, budget_exceeded, restored_cells, ...).
"""
from __future__ import annotations

import asyncio
import copy
import math
import os
import re
import time
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from traitlets import Bool, Dict, Enum, Integer, List, Unicode, default
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient

from nbgrader import utils
from nbgrader.preprocessors import (
    ClearSolutions, Execute, GetGrades, NbGraderPreprocessor, OverwriteCells, SaveAutoGrades)

from jupyter_client.manager import AsyncKernelManager

from .html_safety import escape_markdown
from .intake import INTAKE_KEY, is_staged
from .rebuild import rebuild
from .tamper import report_markdown, scan_notebook
from .sandbox import Sandbox, sandbox_env

METADATA_KEY = "lablib_grading"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*", re.M | re.S)


def grading_metadata(nb) -> dict:
    md = nb.metadata.get(METADATA_KEY)
    if not isinstance(md, dict):
        md = nb.metadata[METADATA_KEY] = NotebookNode({"notes": [], "flags": []})
    md.setdefault("notes", [])
    md.setdefault("flags", [])
    return md


def record(nb, flag: str, note: str) -> None:
    md = grading_metadata(nb)
    if flag not in md["flags"]:
        md["flags"].append(flag)
    md["notes"].append(note)


def error_output(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _label(cell, index: int) -> str:
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell {index}" + (f" ('{gid}')" if gid else "")


class RebuildFromSource(NbGraderPreprocessor):
    """Replace the submitted notebook by the source notebook carrying the student's answer cells."""

    source_root = Unicode(help="Absolute path of the source directory (solutions/).").tag(config=True)
    release_root = Unicode(help="Absolute path of the release directory (labs/).").tag(config=True)
    run_experiments = Bool(
        False, help="Also run the lab's plain code cells (experiments, plots, widgets) while grading. Off: "
        "grading runs only the nbgrader cells (setup, answers, tests), which is all the grades depend on, "
        "seconds instead of a minute per submission and no experiment that can hang.").tag(config=True)

    def preprocess(self, nb, resources):
        lab, name = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
        if not is_staged(resources.get("metadata", {}).get("path", "")):  # nbgrader would read submitted/ itself
            raise RuntimeError("autograde with `python -m grading.pipeline grade`: a submission is read only by its "
                               "intake (grading/pipeline/intake.py), never by nbgrader directly (formgrader's "
                               "Autograde button)")
        source = nbformat.read(Path(self.source_root) / lab / f"{name}.ipynb", as_version=4)
        release = nbformat.read(Path(self.release_root) / lab / f"{name}.ipynb", as_version=4)
        rebuilt, notes = rebuild(nb, source, release)
        if not self.run_experiments:
            for cell in rebuilt.cells:
                if cell.cell_type == "code" and "nbgrader" not in cell.metadata:
                    cell.source = "# (experiment cell: not run while grading; your own notebook has its output)"
                    cell.outputs, cell.execution_count = [], None
        intake = nb.metadata.get(INTAKE_KEY, {})  # written by the intake, which builds the notebook it stages
        rebuilt.metadata[METADATA_KEY] = NotebookNode({"notes": list(intake.get("notes", [])),
                                                       "flags": list(intake.get("flags", [])), "intake": intake})
        for flag, note in notes:
            record(rebuilt, flag, note)
        ids = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if "grade_id" in c.metadata.get("nbgrader", {})}
        findings = scan_notebook(nb, expected_ids=ids)
        if findings:  # for the grader only (export: flag tamper_suspect and a report file), never a verdict
            md = grading_metadata(rebuilt)
            md["flags"].append("tamper_suspect")
            md["tamper"] = report_markdown(findings)
        return rebuilt, resources


MAX_KERNEL_MESSAGE = 64 << 20  # bytes of one message from a sandboxed kernel (a plot is well under 1 MB)


class _BoundedContext(zmq.asyncio.Context):
    """A ZeroMQ context whose sockets refuse an inbound message over MAX_KERNEL_MESSAGE bytes (the peer is
    disconnected before the message is buffered): the student's kernel cannot make the grader hold 100 MB of
    output metadata per message; the cell then times out like a hung one."""

    def socket(self, *args, **kwargs):
        sock = super().socket(*args, **kwargs)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_KERNEL_MESSAGE)
        return sock


class BoundedKernelClient(AsyncKernelClient):
    @default("context")
    def _bounded_context(self):
        self._created_context = True  # the client terminates it when its channels stop
        return _BoundedContext()

    READY_POLL = 0.05  # seconds to wait for IOPub after a kernel_info reply before asking again

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        """Ready when a kernel_info reply has come back on the shell channel *and* the kernel's idle status for that
        request on IOPub (both channels connected; nothing of the start is still in flight). jupyter_client's own
        wait ends with 0.2 s of IOPub silence, and another 0.2 s each time the subscription was not yet live:
        a third of a warm kernel's start."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await ensure_async(self.shell_channel.get_msg(timeout=1))
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply" and await self._idle_seen(
                    reply["parent_header"].get("msg_id"), min(deadline, time.monotonic() + self.READY_POLL)):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")

    async def _idle_seen(self, msg_id, until: float) -> bool:
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await ensure_async(self.iopub_channel.get_msg(timeout=left))
            except Empty:
                return False
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle" \
                    and msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    wait_for_ready = _async_wait_for_ready  # the asynchronous client's is the coroutine itself


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel inside the sandbox (sandbox.py): its own empty work directory as cwd and home, no inherited
    environment, and ZeroMQ over unix sockets in that directory (the sandbox has no network, not even
    loopback); its client reads at most MAX_KERNEL_MESSAGE bytes per message."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.client_factory = BoundedKernelClient
        self.sandbox = Sandbox(parent=self)
        self.workdir = self.sandbox.workdir(quota=True)
        self.transport, self.ip = "ipc", str(self.workdir / "kernel")
        self.connection_file = str(self.workdir / "kernel.json")
        self.hide: list[str] = []
        self.env: dict = {}

    def format_kernel_cmd(self, extra_arguments=None):
        owner = self.workdir.stat()  # the file was written by the grader just before; the kernel runs as the owner
        os.chown(self.connection_file, owner.st_uid, owner.st_gid)
        return self.sandbox.command(super().format_kernel_cmd(extra_arguments), self.workdir, hide=self.hide)

    async def _async_pre_start_kernel(self, **kwargs):
        kwargs["cwd"] = str(self.workdir)
        kwargs["env"] = sandbox_env(self.workdir, self.env)
        return await super()._async_pre_start_kernel(**kwargs)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            Sandbox.release_workdir(self.workdir)

    cleanup_resources = run_sync(_async_cleanup_resources)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Until the kernel's process has ended. jupyter_client polls every 0.1 s, and a killed sandbox is gone
        within milliseconds: its first poll, just after the kill, cost every submission 0.1 s of waiting."""
        interval = 0.002
        while await self._async_is_alive():
            await asyncio.sleep(interval)
            interval = min(2 * interval, pollinterval)


class GradingExecute(Execute):
    """nbgrader's Execute that always finishes: timeouts, a time budget and kernel restarts; the kernel runs in
    the sandbox (``Sandbox.enabled``), which hides ``hide`` (the course directory) from it."""

    notebook_budget = Integer(
        180, help="Seconds of execution allowed for a whole notebook; later cells are not run.").tag(config=True)
    max_kernel_restarts = Integer(
        2, help="Kernel restarts per notebook after the kernel died or stopped responding.").tag(config=True)
    kernel_env = Dict(
        help="Extra environment variables of the kernel (never a secret: student code reads them).").tag(config=True)
    hide = List(Unicode(), help="Paths the sandboxed kernel must not see (the course directory).").tag(config=True)
    max_output_chars = Integer(
        1_000_000, help="Output kept per cell; the rest is dropped as it arrives (a print loop cannot fill the "
        "grader's memory).").tag(config=True)
    shutdown_kernel = Enum(
        ["graceful", "immediate"], default_value="immediate",
        help="How the kernel ends after the last cell: 'immediate' kills its sandbox (nothing in it outlives "
        "the kernel, and its outputs are all in) instead of asking the student's kernel to shut down and waiting "
        "for it.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._started = time.monotonic()
        self._remaining = float(self.notebook_budget)
        self._restarts = 0
        self._skip = set()       # cells that killed the kernel or timed out: not re-run when recovering
        self._gave_up = False
        self._output_chars = {}
        from .verdict import PENDING, kernel_blind  # (verdict.py imports this module)

        # a test cell whose kernel result the pending trusted verdict ignores is not run: only its verdict counts
        self._blind = kernel_blind if PENDING in (resources or {}) else (lambda source: False)
        nb, resources = super().preprocess(nb, resources, km)
        grading_metadata(nb)["execution_seconds"] = round(time.monotonic() - self._started, 2)
        return nb, resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        # everything an output keeps counts: text, data, metadata, an error's name, value and traceback
        size = sum(len(str(content.get(key) or "")) for key in ("text", "ename", "evalue", "traceback"))
        size += sum(len(str(k)) + len(str(v)) for key in ("data", "metadata", "transient")
                    for k, v in (content.get(key) or {}).items())
        used = self._output_chars.get(cell_index, 0)
        self._output_chars[cell_index] = used + size
        if used + size <= self.max_output_chars:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_chars:
            outs.append(nbformat.v4.new_output("stream", name="stdout", text=(
                f"\n[output truncated: more than {self.max_output_chars} characters]\n")))
            record(self.nb, "huge_output", f"cell {cell_index} printed more than {self.max_output_chars} "
                                           "characters; the rest was dropped")
        return None

    def create_kernel_manager(self):
        if Sandbox(parent=self).enabled:
            self.kernel_manager_class = SandboxedKernelManager
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            km.hide, km.env = list(self.hide), dict(self.kernel_env)
        return km

    async def async_start_new_kernel(self, **kwargs):
        kwargs.setdefault("env", {**os.environ, **self.kernel_env})
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        budget = max(1, math.ceil(self._remaining))
        return budget if timeout is None else min(timeout, budget)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if utils.is_grade(cell) and not utils.is_solution(cell) and self._blind(cell.source):
            cell.outputs, cell.execution_count = [], None
            return cell, resources
        self._remaining = self.notebook_budget - (time.monotonic() - self._started)
        if self._gave_up or self._remaining <= 0:
            cell.outputs = [error_output("NotRun", "not run: " + (
                "the kernel kept dying" if self._gave_up else
                f"the notebook's time budget ({self.notebook_budget} s) was used up"))]
            if not self._gave_up:
                record(self.nb, "budget_exceeded", f"{_label(cell, index)} not run: time budget used up")
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.execution_count = None  # set or not depending on when the kernel died: the same for every run
            cell.outputs.append(error_output(
                "KernelDied", "the kernel died while running this cell (os._exit, a crash, out of memory); "
                "it was restarted and the cells above were run again"))
            record(self.nb, "kernel_died", f"the kernel died in {_label(cell, index)}")
            self._recover(index)
        except CellTimeoutError:
            cell.execution_count = None
            cell.outputs.append(error_output(
                "CellTimeoutError", f"no answer from the kernel within {self.timeout} s; it was restarted"))
            record(self.nb, "timeout", f"{_label(cell, index)} timed out and the kernel did not respond")
            self._recover(index)
        else:
            if any(o.output_type == "error" and o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                self._skip.add(index)
                record(self.nb, "timeout", f"{_label(cell, index)} timed out after {self._get_timeout(cell)} s "
                                           "and was interrupted")
        return cell, resources

    def _restart_kernel(self):
        try:
            self._cleanup_kernel()
        except Exception:  # a dead kernel may fail to shut down cleanly; we start a new one anyway
            pass
        self.km, self.kc = self.create_kernel_manager(), None
        self.start_new_kernel()
        self.start_new_kernel_client()

    def _recover(self, failed_index):
        """Restart the kernel and re-run the code cells above ``failed_index`` (outputs discarded), except test
        cells and cells that killed the kernel or timed out."""
        self._skip.add(failed_index)
        while self._restarts < self.max_kernel_restarts:
            self._restarts += 1
            self._restart_kernel()
            replay = [j for j in range(failed_index)      # test cells define nothing: not re-run
                      if self.nb.cells[j].cell_type == "code" and j not in self._skip
                      and not (utils.is_grade(self.nb.cells[j]) and not utils.is_solution(self.nb.cells[j]))]
            for j in replay:
                try:
                    self.execute_cell(copy.deepcopy(self.nb.cells[j]), j, store_history=False)
                except (DeadKernelError, CellTimeoutError):
                    self._skip.add(j)
                    break
            else:
                return
        self._gave_up = True
        record(self.nb, "kernel_died", f"gave up after {self.max_kernel_restarts} kernel restarts")


class StderrIsNotAnError(NbGraderPreprocessor):
    """Keep stderr text of test cells that raised no error as plain output, so it does not zero the cell."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        if any(o.output_type == "error" for o in cell.outputs):
            return cell, resources
        outputs = []
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                self._warned = True
                previous = outputs[-1] if outputs else None
                if previous is not None and previous.get("metadata", {}).get(METADATA_KEY):
                    previous.data["text/plain"] += output.text
                    continue
                output = nbformat.v4.new_output(
                    "display_data", data={"text/plain": output.text}, metadata={METADATA_KEY: {"stream": "stderr"}})
            outputs.append(output)
        cell.outputs = outputs
        return cell, resources

    def preprocess(self, nb, resources):
        self._warned = False
        nb, resources = super().preprocess(nb, resources)
        if self._warned:
            record(nb, "stderr_in_tests", "a test cell wrote to stderr (e.g. a warning) without an error: "
                                          "not counted as a failure")
        return nb, resources


class _SubmissionRows:
    """For nbgrader's gradebook preprocessors, which look up one row per cell: a submission's grade or comment row
    of a cell, read with all the others of its kind in two queries (``export.submission_rows``) at the first cell
    that needs one."""

    def _row(self, kind: str, cell):
        from .export import entry, submission_rows

        if kind not in self._rows:
            self._rows[kind] = submission_rows(self.gradebook, kind, self.assignment_id, self.student_id)
        key = f"{self.notebook_id}/{cell.metadata['nbgrader']['grade_id']}"
        return entry(self._rows[kind], kind, key, self.assignment_id, self.student_id)


class SaveAutoGradesAtOnce(_SubmissionRows, SaveAutoGrades):
    """nbgrader's SaveAutoGrades (each graded cell's automatic points, "No response." for an unchanged answer) with
    the submission's rows read at once and one commit at the end instead of one per cell."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
        self.student_id, self.db_url = info["student"], info["db_url"]
        self.gradebook, self._rows = Gradebook(self.db_url), {}
        with self.gradebook:
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)   # each cell, as nbgrader's
            self.gradebook.db.commit()
        return nb, resources

    def _add_score(self, cell, resources):
        grade = self._row("grade", cell)
        grade.auto_score, _ = utils.determine_grade(cell, self.log)
        # a manual grade given before, or no automatic score: to be looked at
        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None

    def _add_comment(self, cell, resources):
        unchanged = cell.metadata.nbgrader.get("checksum", None) == utils.compute_checksum(cell)
        self._row("comment", cell).auto_comment = "No response." if unchanged and not utils.is_task(cell) else None


class _NotebookCells:
    """A gradebook whose ``find_source_cell`` and ``find_graded_cell`` answer from one notebook's cells, read in
    three queries (as nbgrader's do: MissingEntry for a cell that is not there, a grade cell before a task cell of
    the same name); everything else is the gradebook's."""

    def __init__(self, gradebook, notebook: str, assignment: str):
        from nbgrader.api import Assignment, GradeCell, Notebook, SourceCell, TaskCell

        def cells(kind):
            return {cell.name: cell for cell in gradebook.db.query(kind)
                    .join(Notebook, Notebook.id == kind.notebook_id)
                    .join(Assignment, Assignment.id == Notebook.assignment_id)
                    .filter(Notebook.name == notebook, Assignment.name == assignment)}

        self._gradebook, self._where = gradebook, (notebook, assignment)
        self._source, self._graded = cells(SourceCell), {**cells(TaskCell), **cells(GradeCell)}

    def __getattr__(self, name):
        return getattr(self._gradebook, name)

    def _find(self, cells: dict, what: str, name: str, notebook: str, assignment: str):
        from nbgrader.api import MissingEntry

        if (notebook, assignment) != self._where:
            return getattr(self._gradebook, f"find_{what}_cell")(name, notebook, assignment)
        if name not in cells:
            raise MissingEntry(f"No such {what} cell: {assignment}/{notebook}/{name}")
        return cells[name]

    def find_source_cell(self, name: str, notebook: str, assignment: str):
        return self._find(self._source, "source", name, notebook, assignment)

    def find_graded_cell(self, name: str, notebook: str, assignment: str):
        return self._find(self._graded, "graded", name, notebook, assignment)


class OverwriteCellsAtOnce(OverwriteCells):
    """nbgrader's OverwriteCells (each grade, solution and task cell's type, lock, points and checksum as the
    gradebook has them; a locked cell's source restored) with the notebook's cells read at once instead of one or
    two lookups per cell."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id, self.db_url = info["notebook"], info["assignment"], info["db_url"]
        with Gradebook(self.db_url) as gradebook:
            self.gradebook = _NotebookCells(gradebook, self.notebook_id, self.assignment_id)
            nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)   # each cell, as nbgrader's
            if self.add_missing_cells:
                nb, resources = self.add_missing_grade_cells(nb, resources)
                nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class GetGradesAtOnce(_SubmissionRows, GetGrades):
    """nbgrader's GetGrades (feedback: each graded cell's score and comment from the gradebook), with the
    submission's rows read at once."""

    def preprocess(self, nb, resources):
        self._rows = {}
        return super().preprocess(nb, resources)

    def _get_comment(self, cell, resources):
        cell.metadata.nbgrader["comment"] = self._row("comment", cell).comment

    def _get_score(self, cell, resources):
        grade = self._row("grade", cell)
        cell.metadata.nbgrader["score"] = grade.score
        cell.metadata.nbgrader["points"] = grade.max_score


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback: drop the hidden-test source and tracebacks, and show the grading notes first."""

    placeholder = Unicode("# (hidden tests: not shown)").tag(config=True)
    secrets = List(Unicode(), help="Strings never shown to students (the hidden seed), blanked in all outputs."
                   ).tag(config=True)

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        notes = grading_metadata(nb)["notes"]
        if notes:  # notes quote student strings (exception messages, names): literal text, never markdown
            text = "**Grading notes**\n\n" + "\n".join(f"- {escape_markdown(note)}" for note in notes)
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
        nb.metadata.pop(METADATA_KEY, None)
        return nb, resources

    def _blank_secrets(self, node):
        if isinstance(node, str):
            for secret in filter(None, self.secrets):
                node = node.replace(secret, "<hidden>")
            return node
        if isinstance(node, list):
            return [self._blank_secrets(item) for item in node]
        if isinstance(node, dict):
            for key in node:
                node[key] = self._blank_secrets(node[key])
        return node

    def preprocess_cell(self, cell, resources, index):
        if self.secrets:
            cell.source = self._blank_secrets(cell.source)
            for output in cell.get("outputs", []):
                self._blank_secrets(output)
        # hidden tests are in the lab's test cells; an answer's text (the student's) is never searched: the
        # region's regex is quadratic in BEGIN lines without an END
        if not utils.is_solution(cell) and (HIDDEN_BEGIN in cell.source or HIDDEN_END in cell.source):
            cell.source = HIDDEN_REGION.sub(self.placeholder, cell.source)
            cell.source = "\n".join(line for line in cell.source.split("\n")
                                    if HIDDEN_BEGIN not in line and HIDDEN_END not in line)
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.evalue = hide_hidden_case(output.evalue)
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


HIDDEN_CASE = re.compile(r"^(.*? — hidden case \d+)\b.*$")


def hide_hidden_case(message: str) -> str:
    """A hidden check's failure without the case's values: which case failed and the known-mistake hint only."""
    lines = message.splitlines() or [""]
    first = HIDDEN_CASE.match(lines[0])
    if first is None:
        return message
    hints = [line.strip() for line in lines[1:] if line.strip().startswith("This matches a known mistake")]
    return "\n".join([f"{first.group(1)} failed (its values are not shown)", *hints])


QUIZ_ANSWER_ID = re.compile(r"quiz_(q\d+)")


class QuizAnswerStubs(ClearSolutions):
    """ClearSolutions for the release; a quiz answer cell's solution becomes ``q1 = None  # YOUR ANSWER HERE``."""

    def _replace_solution_region(self, cell, language):
        found = QUIZ_ANSWER_ID.fullmatch(str(cell.metadata.get("nbgrader", {}).get("grade_id", "")))
        if cell.cell_type != "code" or found is None:
            return super()._replace_solution_region(cell, language)
        saved = self.code_stub
        self.code_stub = {**saved, language: f"{found.group(1)} = None  # YOUR ANSWER HERE"}
        try:
            return super()._replace_solution_region(cell, language)
        finally:
            self.code_stub = saved
