"""Unit tests of the grading pipeline's parts: rebuilding submissions, stderr, hidden tests, execution (pairs:
test_pipeline_pairs.py; the intake: test_pipeline_intake.py)."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

from grading.pipeline.preprocessors import GradingExecute, HideHiddenTests, StderrIsNotAnError, grading_metadata
from grading.pipeline.rebuild import rebuild

REPO = Path(__file__).resolve().parents[1]

LAB = "lab01-gradient-descent"
SOURCE = nbformat.read(REPO / "solutions" / LAB / "lab01.ipynb", as_version=4)
RELEASE = nbformat.read(REPO / "labs" / LAB / "lab01.ipynb", as_version=4)
ANSWERS = {"f": "def f(x):\n    return x ** 2",
           "df": "def df(x):\n    return x + x",
           "gradient_descent": "def gradient_descent(df, x0, lr, n_steps):\n    return [x0] * (n_steps + 1)",
           "discussion": "It oscillates, then it diverges."}


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def by_id(nb, grade_id):
    return next(c for c in nb.cells if gid(c) == grade_id)


def submission(**changes):
    nb = copy.deepcopy(RELEASE)
    for grade_id, text in {**ANSWERS, **changes}.items():
        by_id(nb, grade_id).source = text
    return nb


def md(grade_id, **flags):
    """A cell's metadata as nbgrader writes it (schema 3), with ``flags`` set."""
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "grade": False, "solution": False,
                         "locked": False, "task": False, **flags}}


def assert_graded_cells_are_the_source(rebuilt):
    for cell, original in zip(rebuilt.cells, SOURCE.cells, strict=True):
        assert cell.metadata == original.metadata
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            assert cell.source == original.source


# --- rebuild ---------------------------------------------------------------------------------------------

def test_rebuild_takes_answers_by_grade_id_and_everything_else_from_the_source():
    rebuilt, notes = rebuild(submission(), SOURCE, RELEASE)
    assert notes == []
    assert_graded_cells_are_the_source(rebuilt)
    for grade_id, text in ANSWERS.items():
        assert by_id(rebuilt, grade_id).source == text
    assert "BEGIN HIDDEN TESTS" in by_id(rebuilt, "test_f_hidden").source   # the hidden tests are back


def test_rebuild_of_an_untouched_release_grades_the_stubs_not_the_solutions():
    rebuilt, notes = rebuild(copy.deepcopy(RELEASE), SOURCE, RELEASE)
    assert notes == []
    for grade_id in ANSWERS:
        assert by_id(rebuilt, grade_id).source == by_id(RELEASE, grade_id).source
        assert "BEGIN SOLUTION" not in by_id(rebuilt, grade_id).source


def test_rebuild_restores_deleted_edited_and_retagged_test_cells():
    nb = submission()
    nb.cells = [c for c in nb.cells if gid(c) != "test_f"]
    by_id(nb, "test_df").source = "pass"
    retagged = by_id(nb, "test_gradient_descent_hidden")
    retagged.metadata["nbgrader"]["grade_id"] = "mine"
    by_id(nb, "test_gradient_descent").metadata["nbgrader"]["points"] = 99
    rebuilt, notes = rebuild(nb, SOURCE, RELEASE)
    assert_graded_cells_are_the_source(rebuilt)
    assert {flag for flag, _ in notes} == {"restored_cells"}
    texts = [text for _, text in notes]
    assert any("'test_f' was missing" in n for n in texts)
    assert any("'test_df' was edited" in n for n in texts)
    assert any("'test_gradient_descent_hidden' was missing or re-tagged" in n for n in texts)
    assert any("'test_gradient_descent' was edited" in n for n in texts)


def test_rebuild_matches_answers_by_content_when_metadata_is_scrambled_or_cells_moved():
    nb = submission()
    for i, cell in enumerate(nb.cells):
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"] = {"grade_id": f"x{i}", "solution": False, "grade": "yes", "schema_version": 99}
    nb.metadata["kernelspec"] = {"name": "nope"}
    answers = [by_id(nb, f"x{i}") for i, c in enumerate(RELEASE.cells) if gid(c) in ("f", "gradient_descent")]
    nb.cells = [c for c in nb.cells if all(c is not a for a in answers)] + answers[::-1]   # moved to the end
    rebuilt, notes = rebuild(nb, SOURCE, RELEASE)
    assert_graded_cells_are_the_source(rebuilt)
    for grade_id, text in ANSWERS.items():
        assert by_id(rebuilt, grade_id).source == text
    answers = [gid(c) for c in SOURCE.cells if c.metadata.get("nbgrader", {}).get("solution")]
    for grade_id in set(answers) - set(ANSWERS):           # left as released: still unanswered, not swapped
        assert by_id(rebuilt, grade_id).source == by_id(RELEASE, grade_id).source
    assert [flag for flag, _ in notes].count("answer_matched_by_content") == len(answers)


def test_rebuild_of_a_deleted_answer_is_the_stub():
    nb = submission()
    nb.cells = [c for c in nb.cells if gid(c) != "gradient_descent"]
    rebuilt, notes = rebuild(nb, SOURCE, RELEASE)
    assert by_id(rebuilt, "gradient_descent").source == by_id(RELEASE, "gradient_descent").source
    assert notes == [("answer_missing",
                      "answer 'gradient_descent' not found in the submission: graded as not answered")]


def test_rebuild_never_takes_a_copy_of_a_test_cell_as_an_answer():
    nb = submission()
    test_copy = copy.deepcopy(by_id(nb, "test_f"))
    test_copy.metadata["nbgrader"]["grade_id"] = "f"          # a test cell re-tagged as the answer
    nb.cells = [c for c in nb.cells if gid(c) != "f"] + [test_copy]
    rebuilt, _ = rebuild(nb, SOURCE, RELEASE)
    assert by_id(rebuilt, "f").source == by_id(RELEASE, "f").source


# --- stderr and hidden tests -----------------------------------------------------------------------------

def grade_cell(outputs, source='check("f", f)'):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 2,
                                 "schema_version": 3}
    cell.outputs = outputs
    return cell


def stream(name, text):
    return nbformat.v4.new_output("stream", name=name, text=text)


def error(ename="CheckFailure", evalue="f(3) returned 6, expected 9"):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=["Traceback", "  secret line"])


def test_stderr_without_error_keeps_its_text_and_the_points():
    warned = grade_cell([stream("stderr", "UserWarning: careful\n"), stream("stdout", "✓ f\n")])
    assert determine_grade(warned)[0] == 0                     # nbgrader alone would give 0
    nb = nbformat.v4.new_notebook(cells=[warned])
    nb, _ = StderrIsNotAnError().preprocess(nb, {})
    assert determine_grade(nb.cells[0]) == (2, 2)
    assert nb.cells[0].outputs[0].data["text/plain"] == "UserWarning: careful\n"
    assert grading_metadata(nb)["flags"] == ["stderr_in_tests"]


def test_stderr_with_an_error_still_fails():
    nb = nbformat.v4.new_notebook(cells=[grade_cell([stream("stderr", "warning\n"), error()])])
    nb, _ = StderrIsNotAnError().preprocess(nb, {})
    assert determine_grade(nb.cells[0]) == (0, 2)
    assert nb.cells[0].outputs[0].output_type == "stream"


def test_feedback_drops_hidden_source_and_tracebacks_but_keeps_the_message():
    hidden = grade_cell([error()], source='# Hidden tests\n### BEGIN HIDDEN TESTS\ncheck("f", f, hidden=True)\n'
                                          '### END HIDDEN TESTS')
    public = grade_cell([error()])
    nb = nbformat.v4.new_notebook(cells=[public, hidden])
    record_note = grading_metadata(nb)
    record_note["notes"].append("cell 1 timed out")
    nb, _ = HideHiddenTests().preprocess(nb, {})
    text = json.dumps(nb)
    assert "hidden=True" not in text and "HIDDEN TESTS" not in text and "secret line" not in json.dumps(nb.cells[2])
    assert nb.cells[2].outputs[0].traceback == ["CheckFailure: f(3) returned 6, expected 9"]
    assert nb.cells[1].outputs[0].traceback == ["Traceback", "  secret line"]   # public tracebacks stay
    assert "cell 1 timed out" in nb.cells[0].source and "lablib_grading" not in nb.metadata


# --- execution ---------------------------------------------------------------------------------------------

def test_execute_survives_kernel_death_and_timeouts_and_passes_the_seed():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 41"),
        nbformat.v4.new_code_cell("import os\nos._exit(1)"),
        nbformat.v4.new_code_cell("x += 1\nprint(x)"),
        nbformat.v4.new_code_cell("while True:\n    pass"),
        nbformat.v4.new_code_cell("import os\nprint(os.environ['LABLIB_HIDDEN_SEED'])"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    executor = GradingExecute(timeout=3, notebook_budget=60, kernel_env={"LABLIB_HIDDEN_SEED": "123"},
                              extra_arguments=["--IPKernelApp.log_level=ERROR"])
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(REPO)}})
    assert [o.ename for o in nb.cells[1].outputs if o.output_type == "error"] == ["KernelDied"]
    assert nb.cells[2].outputs[0].text == "42\n"                # the cell above the death was re-run once
    assert any(o.output_type == "error" for o in nb.cells[3].outputs)
    assert nb.cells[4].outputs[0].text == "123\n"
    assert {"kernel_died", "timeout"} <= set(grading_metadata(nb)["flags"])


def test_execute_budget_stops_the_notebook_with_a_visible_error():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time\ntime.sleep(30)"),
        nbformat.v4.new_code_cell("print('never')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    executor = GradingExecute(timeout=30, notebook_budget=2, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(REPO)}})
    assert nb.cells[1].outputs[0].ename == "NotRun"
    assert "budget_exceeded" in grading_metadata(nb)["flags"]
    assert grading_metadata(nb)["execution_seconds"] < 15


def test_execute_skips_the_cells_a_pending_trusted_verdict_ignores_and_only_then():
    from concurrent.futures import Future

    from grading.pipeline.verdict import PENDING

    def test_cell(source):
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "grade_id": f"t{len(source)}", "points": 1}})

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def check(*args, **kwargs):\n    print('ran', args[0])"),
        test_cell('check("f", f)'),
        test_cell('check("f", f, hidden=True)'),
        test_cell('check("f", f)\ncheck("f", f, hidden=True)'),
        test_cell('check_quiz("lab01:q1", q1, choices="abcd")'),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells[0].source += "\ncheck_quiz = check\nf = q1 = None"
    executor = GradingExecute(timeout=10, notebook_budget=60, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    ran, _ = executor.preprocess(copy.deepcopy(nb), {"metadata": {"path": str(REPO)}, PENDING: Future()})
    assert [[o.text for o in cell.outputs] for cell in ran.cells[1:]] == [["ran f\n"], [], ["ran f\nran f\n"], []]
    assert [cell.execution_count for cell in ran.cells] == [1, 2, None, 3, None]
    alone, _ = executor.preprocess(copy.deepcopy(nb), {"metadata": {"path": str(REPO)}})  # no verdict: all run
    assert [[o.text for o in cell.outputs] for cell in alone.cells[1:]] == [
        ["ran f\n"], ["ran f\n"], ["ran f\nran f\n"], ["ran lab01:q1\n"]]


def test_a_failed_hidden_case_shows_which_case_and_the_hint_but_not_its_values():
    from grading.pipeline.preprocessors import hide_hidden_case

    message = ("gradient_descent — hidden case 2: f(x) = x**2 (grad 2x), x0 = 1.57706, lr=0.135852, n_steps=20:\n"
               "  iterates is wrong at index (20,): expected 0.002779750629, got 193.0051086\n"
               "  This matches a known mistake — gradient ascent: move AGAINST the gradient: x - lr * grad(x)")
    shown = hide_hidden_case(message)
    assert shown == ("gradient_descent — hidden case 2 failed (its values are not shown)\n"
                     "This matches a known mistake — gradient ascent: move AGAINST the gradient: x - lr * grad(x)")
    public = message.replace("hidden case", "public case")
    assert hide_hidden_case(public) == public
    assert hide_hidden_case("f: not implemented yet") == "f: not implemented yet"


def test_execute_restarts_a_kernel_that_ignores_the_interrupt():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 41"),
        nbformat.v4.new_code_cell("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
        nbformat.v4.new_code_cell("x += 1\nprint(x)"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    executor = GradingExecute(timeout=2, notebook_budget=60, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(REPO)}})
    assert [o.ename for o in nb.cells[1].outputs if o.output_type == "error"] == ["CellTimeoutError"]
    assert nb.cells[2].outputs[0].text == "42\n"                # fresh kernel, the cell above re-run
    assert grading_metadata(nb)["flags"] == ["timeout"]


def test_a_new_gradebook_is_stamped_with_what_the_alembic_script_says(tmp_path):
    """export.alembic_head (in-process) replaces nbgrader's `alembic heads` subprocess: same revision."""
    import subprocess
    import sys

    from nbgrader.api import Gradebook
    from nbgrader.dbutil import _temp_alembic_ini
    from sqlalchemy import text

    from grading.pipeline.export import alembic_head, prepare_gradebook

    with _temp_alembic_ini("sqlite:///unused.db") as ini:
        script = Path(sys.executable).parent / "alembic"
        heads = subprocess.check_output([str(script), "-c", ini, "heads"], text=True)
    assert heads.split()[0] == alembic_head()
    prepare_gradebook()
    with Gradebook(f"sqlite:///{tmp_path}/gradebook.db") as gb:
        assert gb.db.execute(text("SELECT version_num FROM alembic_version")).scalar() == alembic_head()


def test_gradebooks_of_one_database_share_an_engine_and_old_engines_are_let_go(tmp_path):
    from nbgrader.api import Gradebook

    from grading.pipeline import export

    export.prepare_gradebook()
    first, second = f"sqlite:///{tmp_path}/a.db", f"sqlite:///{tmp_path}/b.db"
    with Gradebook(first) as gb:
        gb.add_student("ada")
        engine = gb.engine
    with Gradebook(first) as gb, Gradebook(second) as other:
        assert gb.engine is engine and other.engine is not engine
        assert [s.id for s in gb.students] == ["ada"] and other.students == []
    for n in range(export.MAX_ENGINES):
        with Gradebook(f"sqlite:///{tmp_path}/{n}.db"):
            pass
    assert len(export._ENGINES) <= export.MAX_ENGINES
    with Gradebook(first) as gb:
        assert gb.engine is not engine and [s.id for s in gb.students] == ["ada"]



def test_gradebooks_of_new_sqlite_files_reuse_the_queries_compiled_for_others_and_keep_their_own_rows(tmp_path):
    from nbgrader.api import Gradebook
    from sqlalchemy import event

    from grading.pipeline import export

    export.prepare_gradebook()

    def work(name, student):
        """(how many statements ran, how many of them were compiled anew, the students, the engine)"""
        with Gradebook(f"sqlite:///{tmp_path}/{name}.db") as gb:
            compiled = []

            def note(conn, cursor, statement, parameters, context, executemany):
                compiled.append(context.cache_hit == context.dialect.CACHE_MISS)

            event.listen(gb.engine, "after_cursor_execute", note)
            gb.add_student(student)
            gb.add_assignment("lab-a")
            gb.update_or_create_submission("lab-a", student)
            students = [s.id for s in gb.students]
            event.remove(gb.engine, "after_cursor_execute", note)
        return len(compiled), sum(compiled), students, gb.engine

    ran, _, students, first = work("first", "ada")
    again, compiled, others, second = work("second", "bob")
    assert second is not first and second.url != first.url and second.dialect is first.dialect
    assert ran == again > 5 and compiled == 0
    assert students == ["ada"] and others == ["bob"]   # each file has its own rows


def test_a_gradebook_whose_tables_a_task_vouches_for_skips_only_the_table_check(tmp_path):
    from nbgrader.api import Gradebook
    from sqlalchemy import event

    from grading.pipeline import export

    export.prepare_gradebook()
    url, other = f"sqlite:///{tmp_path}/task.db", f"sqlite:///{tmp_path}/other.db"
    with Gradebook(url, "course-a") as gb:
        gb.add_student("ada")
        engine = gb.engine
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    def opened(db_url):
        statements.clear()
        with Gradebook(db_url, "course-a") as gb:
            students = [s.id for s in gb.students]
        return students, sum("sqlite_master" in q or "PRAGMA" in q for q in statements)

    students, checks = opened(url)
    assert students == ["ada"] and checks >= 10    # nbgrader lists the tables, then checks each one
    with export.tables_made(url):
        with export.tables_made(url):
            assert opened(url) == (["ada"], 0)
        assert opened(url) == (["ada"], 0)       # still vouched for by the outer one
        with Gradebook(other) as gb:              # another database is checked, and its tables made
            assert gb.students == []
    assert opened(url) == (["ada"], checks) and export._TABLES_MADE == {}


# --- bounded work on student text ----------------------------------------------------------------------------

def test_matching_by_content_compares_in_full_only_what_can_reach_the_threshold(monkeypatch):
    """_most_similar gives difflib's own answer (the most similar text, ratio >= 0.5; ties: the later) while
    comparing in full only texts whose cheap bounds reach 0.5, at most MAX_COMPARED of them."""
    import difflib
    import random

    from grading.pipeline import rebuild as module

    rng = random.Random(3)
    stub = "def f(x):\n    raise NotImplementedError()\n"
    for _ in range(200):
        texts = [(i, "".join(rng.choice("def f(x):\n return 2*x+y") for _ in range(rng.randrange(1, 150))))
                 for i in range(rng.randrange(1, 15))]
        scored = [(difflib.SequenceMatcher(None, stub, text).ratio(), i) for i, text in texts]
        best_ratio, best = max(scored)
        assert module._most_similar(stub, texts) == (best if best_ratio >= module.MIN_SIMILARITY else None)
    compared = []
    real_ratio = difflib.SequenceMatcher.ratio
    monkeypatch.setattr(difflib.SequenceMatcher, "ratio", lambda self: compared.append(1) or real_ratio(self))
    junk = [(i, stub.replace("f", "g") + "#" * (i % 7)) for i in range(400)] + [(400, "x" * 100_000)]
    assert module._most_similar(stub, junk) is not None
    assert len(compared) == module.MAX_COMPARED


def test_parsing_code_nested_too_deeply_finds_no_function_instead_of_crashing():
    from grading.pipeline.rebuild import defined_functions

    assert defined_functions("def f():\n    pass\nx = " + "+1" * 40_000) == set()
    assert defined_functions("def f():\n    pass\n") == {"f"}


def test_feedback_never_searches_an_answers_text_for_hidden_test_markers():
    """The hidden-region regex is quadratic in BEGIN lines without an END: answers are left as they are."""
    answer = nbformat.v4.new_code_cell("def f(x):\n    return x\n" + "### BEGIN HIDDEN TESTS\n" * 3)
    answer.metadata["nbgrader"] = {"grade": False, "solution": True, "locked": False, "grade_id": "f",
                                   "schema_version": 3}
    nb, _ = HideHiddenTests().preprocess(nbformat.v4.new_notebook(cells=[answer]), {})
    assert nb.cells[-1].source == answer.source


def test_the_grades_csv_holds_no_formula(tmp_path):
    """A partner claim or a quoted message is the student's text: in the grades CSV it never starts a formula."""
    import csv as csv_module

    from grading.pipeline.export import Report

    hostile = {"partner": '=HYPERLINK("http://127.0.0.1:9/x","grade")', "notes": "@SUM(A1:A9)", "flags": "+1",
               "graded_submission": "-1+1"}
    report = Report(lab="lab01-gradient-descent", exercises={"f": 2.0}, max_score=2.0, submissions={},
                    rows=[{"student": "ann", "f": 2.0, "score": -0.5, **hostile}])
    report.write(tmp_path)
    (row,) = csv_module.DictReader(open(report.csv_path, newline="", encoding="utf-8"))
    assert {k: row[k] for k in hostile} == {k: "'" + v for k, v in hostile.items()}
    assert row["score"] == "-0.5" and row["f"] == "2"       # numbers stay numbers


def test_a_workers_private_course_goes_to_memory_only_where_there_is_room(tmp_path):
    from grading.pipeline.parallel import _in_memory

    assert _in_memory(str(tmp_path), room=1) == str(tmp_path)
    assert _in_memory(str(tmp_path), room=1 << 60) is None          # more than any disk has free
    assert _in_memory(str(tmp_path / "missing")) is None
    (tmp_path / "locked").mkdir(mode=0o500)
    if os.geteuid() != 0:   # root writes anywhere
        assert _in_memory(str(tmp_path / "locked"), room=1) is None


# -- the per-cell schema checks, compiled once (schemas.py) --------------------------------------------------------

def _raised(check, *args, **kwargs):
    """(exception type, message) ``check`` raises, or None."""
    try:
        check(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- the comparison is the point
        return type(exc).__name__, str(exc)
    return None


def test_compiled_schema_checks_give_jsonschemas_verdict_and_error_on_valid_and_hostile_cells():
    import jsonschema
    from nbformat.v4 import nbbase
    from nbgrader.nbgraderformat import common
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    from grading.pipeline.schemas import NbgraderSchema, NodeSchema

    assert isinstance(nbbase.validate, NodeSchema) and isinstance(common.jsonschema, NbgraderSchema)
    schema = MetadataValidatorV3().schema
    good = {"grade": True, "solution": False, "locked": True, "grade_id": "t1", "points": 2, "schema_version": 3}
    metadata = [good, {**good, "points": 1.5}, {**good, "points": "2"}, {**good, "points": True},
                {**good, "points": None}, {**good, "grade": 1}, {**good, "grade_id": 7}, {**good, "schema_version": 3.0},
                {**good, "task": True}, {**good, "extra": "x"}, {k: v for k, v in good.items() if k != "grade_id"}, {}]
    verdicts = [(md, _raised(common.jsonschema.validate, md, schema), _raised(jsonschema.validate, md, schema))
                for md in metadata]
    assert [fast for _, fast, plain in verdicts] == [plain for _, fast, plain in verdicts]
    assert verdicts[0][1] is None and sum(fast is not None for _, fast, _ in verdicts) >= 5
    for _ in range(3):   # nbgrader reads its schema anew for every notebook: one compiled check per content
        common.jsonschema.validate(good, MetadataValidatorV3().schema)
    assert sum(json.dumps(schema, sort_keys=True) == key for key in common.jsonschema._checks) == 1

    cell = {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None, "id": "a1"}
    nodes = [(c, "code_cell") for c in [cell, {**cell, "source": 1}, {**cell, "execution_count": True},
                                        {**cell, "execution_count": 1.0}, {**cell, "execution_count": -1},
                                        {**cell, "id": "not an id!"}, {**cell, "extra": 1}, {**cell, "outputs": [{}]}]]
    nodes += [(o, "output") for o in [{"output_type": "stream", "name": "stdout", "text": "ok"},
                                       {"output_type": "stream", "name": "stdout", "text": 3},
                                       {"output_type": "stream", "name": "stdin", "text": "x"},
                                       {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t", 1]},
                                       {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": {}},
                                       {"output_type": "display_data", "data": {"text/plain": 5}, "metadata": {}},
                                       {"output_type": "script"}]]
    nodes += [(c, "cell") for c in SOURCE.cells]
    for node, ref in nodes:
        fast = _raised(nbbase.validate, copy.deepcopy(node), ref=ref)
        assert fast == _raised(nbbase.validate.original, copy.deepcopy(node), ref=ref), (ref, node)
    assert sum(_raised(nbbase.validate, copy.deepcopy(n), ref=r) is not None for n, r in nodes) >= 10
    with pytest.raises(nbformat.ValidationError):
        nbformat.v4.new_output("stream", name="stdout", text=3)


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")   # nbgrader's own submission() autoflushes early
def test_a_submissions_grades_and_comments_read_at_once_are_the_rows_nbgraders_finders_return(tmp_path):
    from nbgrader.api import Gradebook, MissingEntry

    from grading.pipeline.export import entry, submission_rows

    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        for lab in ("lab-a", "lab-b"):
            gb.add_assignment(lab)
            for nb in ("one", "two"):
                gb.add_notebook(nb, lab)
                gb.add_grade_cell("shared", nb, lab, max_score=1, cell_type="code")
                gb.add_task_cell("shared", nb, lab, max_score=2, cell_type="markdown")   # same name, a task
                gb.add_task_cell("essay", nb, lab, max_score=3, cell_type="markdown")
                gb.add_grade_cell("tests", nb, lab, max_score=4, cell_type="code")
                gb.add_solution_cell("answer", nb, lab)
                gb.add_solution_cell("shared", nb, lab)
        for student in ("ann", "bob"):
            gb.add_student(student)
            for lab in ("lab-a", "lab-b"):
                gb.update_or_create_submission(lab, student)
        grades, comments = submission_rows(gb, "grade", "lab-a", "bob"), submission_rows(gb, "comment", "lab-a", "bob")
        assert sorted(grades) == ["one/essay", "one/shared", "one/tests", "two/essay", "two/shared", "two/tests"]
        assert sorted(comments) == ["one/answer", "one/essay", "one/shared", "two/answer", "two/essay", "two/shared"]
        for key, row in grades.items():
            assert row.id == gb.find_grade(key.split("/")[1], key.split("/")[0], "lab-a", "bob").id, key
        for key, row in comments.items():
            assert row.id == gb.find_comment(key.split("/")[1], key.split("/")[0], "lab-a", "bob").id, key
        assert grades["one/shared"].cell.type == "GradeCell" and comments["one/shared"].cell.type == "SolutionCell"
        with pytest.raises(MissingEntry, match="grade: lab-a/one/nothing for bob"):
            entry(grades, "grade", "one/nothing", "lab-a", "bob")
        for i, (key, row) in enumerate(sorted(grades.items())):
            row.auto_score, row.manual_score = i / 2, (None if i % 2 else i)
        for i, (key, row) in enumerate(sorted(comments.items())):
            row.auto_comment, row.manual_comment = f"auto {i}", (f"manual {i}" if i % 3 == 0 else None)
        gb.db.commit()

    # the feedback's scores and comments: nbgrader's GetGrades and the kit's, on the same notebook
    from nbgrader.preprocessors import GetGrades

    from grading.pipeline.preprocessors import GetGradesAtOnce

    def cell(grade_id, **flags):
        return nbformat.v4.new_markdown_cell("x", metadata={"nbgrader": {"grade_id": grade_id, "schema_version": 3,
                                                                         "grade": False, "solution": False,
                                                                         "locked": False, "task": False, **flags}})

    nb = nbformat.v4.new_notebook(cells=[cell("shared", grade=True, solution=True), cell("essay", task=True),
                                         cell("tests", grade=True), cell("answer", solution=True)])
    seen = []
    for preprocessor in (GetGrades, GetGradesAtOnce):
        resources = {"nbgrader": {"notebook": "one", "assignment": "lab-a", "student": "bob",
                                  "db_url": f"sqlite:///{tmp_path / 'gradebook.db'}"}}
        out, resources = preprocessor().preprocess(copy.deepcopy(nb), resources)
        seen.append(([c.metadata.nbgrader for c in out.cells], resources["nbgrader"]))
    assert seen[0] == seen[1]
    # a manual score or comment wins over the automatic one (the rows' values set above, in sorted key order)
    assert [(md.get("score"), md.get("comment")) for md in seen[0][0]] == [
        (0.5, "auto 2"), (0, "auto 1"), (2, None), (None, "manual 0")]


def test_a_feedback_pages_code_highlighted_once_per_source_is_nbconverts_highlighting():
    from nbconvert.filters.highlight import Highlight2HTML

    from grading.pipeline.pages import _HighlightOnce, _highlighted

    sources = [c.source for c in SOURCE.cells if c.cell_type == "code"][:12] + ["", "%%bash\necho <b>hi</b>", "x = '<script>'"]
    metadata = [None, {}, {"magics_language": "bash"}]
    for source in sources:
        for language in (None, "python", "ipython3"):
            for md in metadata:
                expected = Highlight2HTML(pygments_lexer="ipython3")(source, language, md)
                assert _HighlightOnce(pygments_lexer="ipython3")(source, language, md) == expected, (source, md)
    hits, size = _highlighted.cache_info().hits, _highlighted.cache_info().currsize
    _HighlightOnce(pygments_lexer="ipython3")(sources[0])
    assert _highlighted.cache_info().hits == hits + 1
    assert "&lt;script&gt;" in _HighlightOnce(pygments_lexer="ipython3")("x = '<script>'")
    long = "x = 1\n" * 3000   # longer than CACHED_TEXT_CHARS: highlighted, never kept
    assert _HighlightOnce(pygments_lexer="ipython3")(long) == Highlight2HTML(pygments_lexer="ipython3")(long)
    assert _highlighted.cache_info().currsize == size

    from grading.pipeline.html_safety import _render_plain, _unsafe_markdown, render_markdown, unsafe_markdown

    sizes = _render_plain.cache_info().currsize, _unsafe_markdown.cache_info().currsize
    assert unsafe_markdown("<img src=x onerror=alert(1)>" + " a" * 6000) and render_markdown("*b* " * 3000)
    assert (_render_plain.cache_info().currsize, _unsafe_markdown.cache_info().currsize) == sizes
    assert unsafe_markdown("<img src=x onerror=alert(1)>") == unsafe_markdown("<img src=x onerror=alert(1)>") != []


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")   # nbgrader's own submission() autoflushes early
def test_autograding_writes_the_same_gradebook_rows_as_nbgraders_save_auto_grades(tmp_path):
    import shutil

    from nbgrader import utils
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades

    from grading.pipeline.preprocessors import SaveAutoGradesAtOnce

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("lab-a")
        gb.add_notebook("one", "lab-a")
        for name, points in (("passes", 2), ("fails", 3), ("manual", 1)):
            gb.add_grade_cell(name, "one", "lab-a", max_score=points, cell_type="code")
        gb.add_grade_cell("written", "one", "lab-a", max_score=2, cell_type="markdown")
        gb.add_task_cell("essay", "one", "lab-a", max_score=3, cell_type="markdown")
        for name in ("blank", "answered", "written"):
            gb.add_solution_cell(name, "one", "lab-a")
        gb.add_student("bob")
        gb.update_or_create_submission("lab-a", "bob")
        gb.find_grade("manual", "one", "lab-a", "bob").manual_score = 0.5   # a TA graded it before this run
        gb.db.commit()

    error = nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
    cells = [nbformat.v4.new_code_cell("check()", metadata=md("passes", grade=True, points=2)),
             nbformat.v4.new_code_cell("check()", metadata=md("fails", grade=True, points=3), outputs=[error]),
             nbformat.v4.new_code_cell("check()", metadata=md("manual", grade=True, points=1)),
             nbformat.v4.new_markdown_cell("I think", metadata=md("written", grade=True, solution=True, points=2)),
             nbformat.v4.new_markdown_cell("essay", metadata=md("essay", task=True, points=3)),
             nbformat.v4.new_code_cell("# YOUR CODE HERE", metadata=md("blank", solution=True)),
             nbformat.v4.new_code_cell("x = 1", metadata=md("answered", solution=True))]
    cells[5].metadata.nbgrader["checksum"] = utils.compute_checksum(cells[5])   # left as released
    cells[6].metadata.nbgrader["checksum"] = "0" * 32                             # changed by the student
    nb = nbformat.v4.new_notebook(cells=cells)

    rows = []
    for k, preprocessor in enumerate((SaveAutoGrades, SaveAutoGradesAtOnce)):
        db = tmp_path / f"copy{k}.db"
        shutil.copyfile(tmp_path / "gradebook.db", db)
        preprocessor().preprocess(copy.deepcopy(nb), {"nbgrader": {
            "notebook": "one", "assignment": "lab-a", "student": "bob", "db_url": f"sqlite:///{db}"}})
        with Gradebook(f"sqlite:///{db}") as gb:
            notebook = gb.find_submission_notebook("one", "lab-a", "bob")
            rows.append(({g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in notebook.grades},
                         {c.name: c.auto_comment for c in notebook.comments}))
    assert rows[0] == rows[1]
    grades, comments = rows[0]
    assert grades["passes"] == (2, None, False) and grades["fails"] == (0, None, False)
    assert grades["manual"] == (1, 0.5, True) and grades["written"][2] and grades["essay"][2]
    assert comments["blank"] == "No response." and comments["answered"] is None


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_cells_read_at_once_overwrite_a_tampered_notebook_as_nbgraders_overwrite_cells(tmp_path):
    import logging

    from nbgrader import utils
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import OverwriteCells

    from grading.pipeline.preprocessors import OverwriteCellsAtOnce

    released = [nbformat.v4.new_code_cell("assert f(1) == 2", metadata=md("test_f", grade=True, locked=True, points=2)),
                nbformat.v4.new_code_cell("def f(x):\n    raise NotImplementedError", metadata=md("f", solution=True)),
                nbformat.v4.new_markdown_cell("Explain.", metadata=md("why", grade=True, solution=True, points=1)),
                nbformat.v4.new_markdown_cell("Plot it.", metadata=md("essay", task=True, locked=True, points=3)),
                nbformat.v4.new_code_cell("import numpy as np", metadata=md("setup", locked=True))]
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("lab-a")
        for notebook in ("one", "two"):   # a second notebook with a cell of the same name must not be read
            gb.add_notebook(notebook, "lab-a")
            for cell in released:
                info = cell.metadata.nbgrader
                gb.add_source_cell(info["grade_id"], notebook, "lab-a", cell_type=cell.cell_type,
                                   locked=info["locked"], source=cell.source + ("" if notebook == "one" else "\n#2"),
                                   checksum=utils.compute_checksum(cell))
                if info["task"]:
                    gb.add_task_cell(info["grade_id"], notebook, "lab-a", max_score=info["points"],
                                     cell_type=cell.cell_type)
                elif info["grade"]:
                    gb.add_grade_cell(info["grade_id"], notebook, "lab-a", max_score=info["points"],
                                      cell_type=cell.cell_type)
        gb.db.commit()

    submitted = copy.deepcopy(released)
    submitted[0].source = "pass"                              # a locked test cell edited
    submitted[0].metadata.nbgrader.update(points=20.0, locked=False)
    submitted[1].source = "def f(x):\n    return 2 * x"     # the answer
    submitted[2].cell_type = "code"                           # a written answer turned into code
    submitted[2].outputs, submitted[2].execution_count = [], None
    submitted[3].metadata.nbgrader["locked"] = False
    submitted += [nbformat.v4.new_code_cell("x = 1", metadata=md("invented", grade=True, points=100)),
                  nbformat.v4.new_code_cell("plain = 1")]
    nb = nbformat.v4.new_notebook(cells=submitted)

    results = []
    for preprocessor in (OverwriteCells, OverwriteCellsAtOnce):
        step, warnings_seen = preprocessor(), []
        handler, level = logging.Handler(), step.log.level   # (an earlier Application may have raised the level)
        handler.emit = lambda record: warnings_seen.append(record.getMessage())
        step.log.addHandler(handler)
        step.log.setLevel(logging.WARNING)
        try:
            out, _ = step.preprocess(copy.deepcopy(nb), {"nbgrader": {"notebook": "one", "assignment": "lab-a",
                                                                      "db_url": url}})
        finally:
            step.log.removeHandler(handler)
            step.log.setLevel(level)
        results.append((out, warnings_seen))
    assert results[0] == results[1]
    out, seen = results[0]
    assert out.cells[0].source == released[0].source and out.cells[0].metadata.nbgrader["points"] == 2
    assert out.cells[2].cell_type == "markdown" and out.cells[3].metadata.nbgrader["locked"]
    assert "grade_id" not in out.cells[5].metadata.nbgrader and len(seen) >= 5
