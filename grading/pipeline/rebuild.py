"""Rebuild the notebook to grade from the course's own notebooks, keeping only the student's answers.

A submission is untrusted: students (or their editors) delete, edit or re-tag test cells and scramble nbgrader
metadata. Instead of repairing what they handed in, we start again from the source notebook (``solutions/``,
which holds the hidden tests) and copy into it only the *text of the student's answer cells*:

1. by nbgrader ``grade_id`` (the normal case: a unique student cell of the right type with that id);
2. else by position and content: the student cell at the same position (for code answers only if it defines
   the same functions), else the student cell right below the lab's cell that precedes the answer (its
   question, found verbatim), else for code answers the student cell that defines the same function (``def f(``),
   else the most similar remaining student cell of the same type (difflib ratio >= ``MIN_SIMILARITY``),
   else, for answers that define no function (written answers), the first remaining student cell of that type;
3. else the released stub (the answer counts as not given, never as the instructor's solution).

Student cells that are copies of the lab's own cells (tests, instructions, setup) are never taken as answers.
Everything else a student added is ignored. Each deviation from the normal case is reported as a note.
"""
from __future__ import annotations

import ast
import copy
import difflib

import nbformat

MIN_SIMILARITY = 0.5
MAX_COMPARED = 20      # texts compared with difflib in full per unanswered cell


def nbgrader_md(cell) -> dict:
    md = cell.get("metadata", {}).get("nbgrader", {})
    return md if isinstance(md, dict) else {}


def is_answer(cell) -> bool:
    """An nbgrader answer cell: ``solution`` set (autograded answer, or manually graded answer)."""
    return bool(nbgrader_md(cell).get("solution", False))


def _grade_id(cell):
    gid = nbgrader_md(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def defined_functions(source: str) -> set[str]:
    """Names of the top-level functions a code cell defines (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # deep nesting: the parser gives up
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _at(notebook, index):
    cells = notebook.get("cells", [])
    return cells[index] if 0 <= index < len(cells) else None


def _after_anchor(cells, index, release_by_id, submitted, candidates, free):
    """The free candidate right after the lab's given cell that precedes answer ``index`` (e.g. its question),
    found verbatim in the submission: students answer below the question even when they scramble metadata."""
    if index == 0 or is_answer(cells[index - 1]):
        return None
    anchor = cells[index - 1]
    texts = {_source(anchor).strip(), _source(release_by_id.get(_grade_id(anchor), anchor)).strip()}
    submitted_cells = [c for c in submitted.get("cells", []) if isinstance(c, dict)]
    for k, cell in enumerate(submitted_cells[:-1]):
        if _source(cell).strip() in texts:
            return next((i for i in free if candidates[i] is submitted_cells[k + 1]), None)
    return None


def _most_similar(stub: str, texts: list[tuple[int, str]]) -> int | None:
    """The index of the text most similar to ``stub`` (difflib ratio >= MIN_SIMILARITY; ties: the later one), or
    None. difflib is quadratic, so its cheap upper bounds go first: a text more than three times longer or shorter
    than the stub can never reach 0.5, and only the ``MAX_COMPARED`` best by character counts are compared in full."""
    matcher = difflib.SequenceMatcher(None, stub, "")
    bounded = []
    for index, text in texts:
        if 2 * min(len(stub), len(text)) < MIN_SIMILARITY * (len(stub) + len(text)):
            continue
        matcher.set_seq2(text)
        if (bound := matcher.quick_ratio()) >= MIN_SIMILARITY:
            bounded.append((bound, index, text))
    best = (0.0, -1)
    for _, index, text in sorted(bounded, key=lambda b: (-b[0], b[1]))[:MAX_COMPARED]:
        matcher.set_seq2(text)
        best = max(best, (matcher.ratio(), index))
    return best[1] if best[0] >= MIN_SIMILARITY else None


def rebuild(submitted, source, release) -> tuple[nbformat.NotebookNode, list[tuple[str, str]]]:
    """Return ``(notebook to grade, notes)``: ``source`` with each answer cell's text taken from ``submitted``;
    each note is ``(flag, sentence)``, flag one of answer_missing, answer_matched_by_content, restored_cells.

    ``source`` and ``release`` are the instructor's and the student's version of the lab (same nbgrader grade_ids);
    ``submitted`` is what the student handed in (any cell list; its metadata is not trusted).
    """
    release_by_id = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    given_texts = {_source(c).strip() for c in release.cells if not is_answer(c)}
    given_texts |= {_source(c).strip() for c in source.cells if not is_answer(c)}
    # Candidate answer cells: everything the student has that is not a verbatim copy of a given cell.
    candidates = [c for c in submitted.get("cells", [])
                  if isinstance(c, dict) and c.get("cell_type") in ("code", "markdown")
                  and _source(c).strip() not in given_texts]
    ids = [_grade_id(c) for c in candidates]

    result = copy.deepcopy(source)
    notes: list[tuple[str, str]] = []
    used: set[int] = set()
    unmatched: list[int] = []
    for index, cell in enumerate(result.cells):
        if not is_answer(cell):
            continue
        gid = _grade_id(cell)
        hits = [i for i, c in enumerate(candidates)
                if ids[i] == gid and c.get("cell_type") == cell.cell_type and i not in used]
        if len(hits) == 1:
            cell.source = _source(candidates[hits[0]])
            used.add(hits[0])
        else:
            unmatched.append(index)

    for index in unmatched:
        cell = result.cells[index]
        gid = _grade_id(cell)
        stub = _source(release_by_id[gid]) if gid in release_by_id else ""
        free = [i for i, c in enumerate(candidates) if i not in used and c.get("cell_type") == cell.cell_type]
        wanted = defined_functions(_source(cell)) if cell.cell_type == "code" else set()
        match = None
        position = next((i for i in free if candidates[i] is _at(submitted, index)), None)
        if position is not None and wanted <= defined_functions(_source(candidates[position])):
            match = position
        if match is None:
            after = _after_anchor(result.cells, index, release_by_id, submitted, candidates, free)
            if after is not None and wanted <= defined_functions(_source(candidates[after])):
                match = after
        if match is None and wanted:
            same_def = [i for i in free if wanted <= defined_functions(_source(candidates[i]))]
            match = same_def[0] if same_def else None
        if match is None and free:
            match = _most_similar(stub, [(i, _source(candidates[i])) for i in free])
        if match is None and free and not wanted:
            match = free[0]   # e.g. a written answer: the first text the student wrote that the lab did not give
        if match is None:
            cell.source = stub
            notes.append(("answer_missing", f"answer '{gid}' not found in the submission: graded as not answered"))
        else:
            cell.source = _source(candidates[match])
            used.add(match)
            notes.append(("answer_matched_by_content",
                          f"answer '{gid}' matched by its content (its nbgrader metadata was missing or changed)"))

    for cell in result.cells:
        md = nbgrader_md(cell)
        if md.get("grade") and not md.get("solution"):
            gid = md.get("grade_id")
            original = next((c for c in submitted.get("cells", [])
                             if isinstance(c, dict) and _grade_id(c) == gid), None)
            if original is None:
                notes.append(("restored_cells", f"test cell '{gid}' was missing or re-tagged: restored"))
            elif _source(original).strip() != _source(release_by_id.get(gid, cell)).strip() \
                    or nbgrader_md(original).get("points") != md.get("points") \
                    or original.get("cell_type") != cell.cell_type:
                notes.append(("restored_cells", f"test cell '{gid}' was edited: restored"))
    return result, notes
