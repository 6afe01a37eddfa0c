"""Every "predict first" prompt of labs 1-4 has an editable cell for the prediction, right after it, in the released
lab (the prompt itself is a locked cell)."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]

# lab -> grade_ids of the locked cells that ask for a prediction
PROMPTS = {
    "lab01-gradient-descent": ["ex_stopping", "ex_experiment", "ex_bowl", "ex_minima"],
    "lab02-backpropagation": ["ex_gradients_222"],
    "lab03-optimizers": ["exp_predict"],
    "lab04-schedules": ["part2", "exp_predict"],
}
# locked cells that mention predicting but only point to a prompt above (the pair exercises' role descriptions)
POINTERS = {"lab03-optimizers": ["ex_rmsprop_step"]}
ASKS = re.compile(r"\bpredicts?\b", re.IGNORECASE)


def released(lab):
    return nbformat.read(REPO / "labs" / lab / (lab.split("-")[0] + ".ipynb"), as_version=4)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def locked(cell):
    return cell.metadata.get("editable") is False or cell.metadata.get("nbgrader", {}).get("locked", False)


@pytest.mark.parametrize("lab", sorted(PROMPTS))
def test_each_prompt_is_followed_by_an_editable_prediction_cell(lab):
    cells = released(lab).cells
    for gid in PROMPTS[lab]:
        index = next(i for i, c in enumerate(cells) if grade_id(c) == gid)
        after = cells[index + 1]
        assert after.cell_type == "markdown" and not locked(after), (lab, gid)
        assert after.source.startswith("**Our prediction"), (lab, gid, after.source[:80])


@pytest.mark.parametrize("lab", sorted(PROMPTS))
def test_no_prompt_without_an_answer_cell(lab):
    asking = {grade_id(c) for c in released(lab).cells
              if c.cell_type == "markdown" and locked(c) and ASKS.search(c.source)
              and not (grade_id(c) or "").startswith("quiz_")}   # a quiz question has its own answer cell
    assert asking == set(PROMPTS[lab]) | set(POINTERS.get(lab, [])), lab
