"""Pairs (grading/pipeline/pairs.py): PARTNER read statically and bounded, a pair counts only when both sides
agree, and nothing another student hands in can lower a grade or replace a submission."""
from __future__ import annotations

import csv
import random
from datetime import datetime

import pytest

from grading.pipeline.pairs import Submission, assign_credit, read_pairs, read_partner, read_roster, register_pair

LAB = "lab01-gradient-descent"


def code(source):
    return {"cell_type": "code", "source": source}


@pytest.mark.parametrize("source, expected", [
    ('PARTNER = "bob"', "bob"),
    ("# pair\nPARTNER = ' bob '  # my partner", "bob"),
    ('PARTNER = ""', ""),
    ("PARTNER = input()", ""),                 # never executed: only a literal string counts
    ('PARTNER = "bob"\ndef broken(:', ""),     # a cell that does not parse is ignored
    ('PARTNER = "' + "x" * 10_000 + '"', ""),  # too large to be the lab's cell: not parsed
    ("PARTNER = 'b'\nx = " + "(" * 250 + ")" * 250, ""),            # nested too deeply for the parser
    ("PARTNER = 'b'\nx = " + "-" * 9000 + "1", ""),                  # the parser runs out of memory
    ("PARTNER = 'b'\nx = " + "+1" * 4000, ""),                       # too deep to build the tree
    ('PARTNER = "' + "b" * 200 + '"', "b" * 64),                     # at most 64 characters kept
])
def test_read_partner_is_static_and_bounded(source, expected):
    assert read_partner([{"cell_type": "markdown", "source": 'PARTNER = "md"'}, code(source)]) == expected


def test_read_partner_takes_the_first_assignment_and_source_lists():
    assert read_partner([code(["# pair\n", 'PARTNER = "ann"']), code('PARTNER = "bob"')]) == "ann"
    assert read_partner([{"cell_type": "raw", "source": 'PARTNER = "x"'}, "not a cell"]) == ""


def at(hour):
    return datetime(2026, 10, 5, hour)


def sub(student, partner="", score=8.0, hour=9, graded=True):
    return Submission(student, at(hour), partner, score, graded)


ROSTER = dict.fromkeys(["a", "b", "c", "d"], {})


def credited(credits):
    return {s: c.submission for s, c in credits.items()}


def test_a_one_sided_claim_on_a_student_who_handed_in_nothing_credits_nobody():
    credits = assign_credit({"a": sub("a", "b")}, ROSTER, lab=LAB)
    assert credited(credits) == {"a": "a", "b": None, "c": None, "d": None}
    assert credits["a"].flags == credits["b"].flags == ["partner_unconfirmed"]
    hint = f"python -m grading.pipeline pair {LAB} a b"
    assert hint in credits["a"].notes[0] and hint in credits["b"].notes[0]
    assert "b handed in nothing" in credits["b"].notes[0]


def test_a_registered_pair_with_one_submission_counts_for_both():
    credits = assign_credit({"a": sub("a", "b")}, ROSTER, [("a", "b", "instructor")])
    assert credited(credits)["b"] == "a" and credits["b"].partner == "a" and credits["a"].partner == "b"
    assert credits["a"].flags == credits["b"].flags == []


def test_a_registration_needs_no_partner_in_the_notebook_and_overrides_a_claim():
    subs = {"a": sub("a", "c", score=8), "c": sub("c", "", score=2)}
    credits = assign_credit(subs, ROSTER, [("a", "b", "hub")])
    assert credited(credits) == {"a": "a", "b": "a", "c": "c", "d": None}
    assert "partner_unconfirmed" in credits["a"].flags and "partner_unconfirmed" in credits["c"].flags
    assert "a is paired with b (registered in the pairs file (hub))" in credits["c"].notes[0]


def test_a_blank_later_notebook_naming_a_classmate_changes_nothing_for_the_classmate():
    """Breach 5: the classmate's correct submission (8) is never replaced by a later blank one (0)."""
    subs = {"victim": sub("victim", "", 8, hour=9), "thief": sub("thief", "victim", 0, hour=23)}
    roster = dict.fromkeys(["victim", "thief"], {})
    credits = assign_credit(subs, roster)
    assert credited(credits) == {"victim": "victim", "thief": "thief"}
    assert credits["victim"].partner == credits["thief"].partner == ""
    assert credits["victim"].flags == ["partner_unconfirmed"]


def test_both_naming_each_other_is_a_pair_and_the_better_submission_counts_for_both():
    subs = {"a": sub("a", "b", 8, hour=9), "b": sub("b", "a", 4, hour=10)}
    credits = assign_credit(subs, ROSTER)
    assert credited(credits)["a"] == credited(credits)["b"] == "a"   # not the later, worse one
    assert credits["a"].flags == credits["b"].flags == ["pair_conflict"]
    assert "a (8 points) and b (4 points)" in credits["a"].notes[0]


def test_a_pair_handing_in_the_same_score_twice_keeps_each_own_without_a_flag():
    credits = assign_credit({"a": sub("a", "b", 8), "b": sub("b", "a", 8)}, ROSTER)
    assert credited(credits)["a"] == "a" and credited(credits)["b"] == "b"
    assert credits["a"].flags == [] and "handed in" in credits["a"].notes[0]


def test_a_refused_submission_counts_below_the_partners_graded_one():
    credits = assign_credit({"a": sub("a", "b", 0, graded=False), "b": sub("b", "a", 3)}, ROSTER)
    assert credited(credits)["a"] == credited(credits)["b"] == "b"


def test_a_cycle_of_three_claims_is_no_pair():
    subs = {"a": sub("a", "b", 1), "b": sub("b", "c", 2), "c": sub("c", "a", 3)}
    credits = assign_credit(subs, ROSTER)
    assert credited(credits) == {"a": "a", "b": "b", "c": "c", "d": None}
    assert all(credits[s].flags == ["partner_unconfirmed"] for s in "abc")


def test_a_claim_on_someone_in_another_agreed_pair_is_not_confirmed():
    subs = {"a": sub("a", "b", 8), "b": sub("b", "a", 8), "c": sub("c", "a", 0)}
    credits = assign_credit(subs, ROSTER)
    assert credits["a"].partner == "b" and credits["c"].partner == ""
    assert credited(credits)["c"] == "c" and "partner_unconfirmed" in credits["a"].flags


@pytest.mark.parametrize("partner", ["zed", "a", "../b", "b" * 65, "<img src=x>"])
def test_a_partner_who_is_not_another_student_on_the_roster_is_unknown(partner):
    credits = assign_credit({"a": sub("a", partner)}, ROSTER)
    assert credited(credits)["a"] == "a" and credits["a"].flags == ["partner_unknown"]
    assert "<" not in credits["a"].notes[0]            # shown escaped


def test_contradictory_registrations_count_for_no_one():
    registered = [("a", "b", "instructor"), ("a", "c", "hub"), ("b", "zed", "hub")]
    credits = assign_credit({"a": sub("a"), "b": sub("b")}, ROSTER, registered)
    assert all(credits[s].partner == "" for s in "abc")
    assert "pair_conflict" in credits["a"].flags and "pair_conflict" in credits["c"].flags
    assert "not two students of the roster" in " ".join(credits["b"].notes)


def test_no_grade_is_ever_lowered_by_what_another_student_hands_in():
    """Random classes: claims (mutual, one-sided, cycles, unknown), registrations and scores. A student's credit
    is their own submission or their agreed partner's, and never worth less than their own."""
    rng = random.Random(11)
    students = [f"s{i}" for i in range(8)]
    roster = dict.fromkeys(students, {})
    for _ in range(500):
        subs = {s: sub(s, rng.choice(["", "", "zed", *students]), rng.choice([0, 2, 4, 8]), rng.randrange(24),
                       rng.random() > 0.1)
                for s in students if rng.random() < 0.7}
        registered = [tuple(rng.sample(students, 2)) + ("hub",) for _ in range(rng.randrange(3))]
        credits = assign_credit(subs, roster, registered)
        for student, credit in credits.items():
            if student in subs:
                got = subs[credit.submission]
                own = subs[student]
                assert (got.graded, got.score) >= (own.graded, own.score)
            if credit.submission not in (None, student):
                partner = credit.submission
                assert credits[partner].partner == student and credit.partner == partner
                mutual = subs[student].partner == partner and subs[partner].partner == student \
                    if student in subs else False
                assert mutual or any({student, partner} == {a, b} for a, b, _ in registered)


def test_register_pair_appends_under_a_header_and_read_pairs_filters_by_lab(tmp_path):
    path = tmp_path / "grading" / "pairs.csv"
    register_pair(path, LAB, "a", "b", roster=ROSTER)
    register_pair(path, "*", "c", "d", "hub")
    register_pair(path, "lab02-backpropagation", "a", "c")
    with open(path, newline="") as fh:
        assert list(csv.reader(fh))[0] == ["lab", "student", "partner", "source"]
    assert read_pairs(path, LAB) == [("a", "b", "instructor"), ("c", "d", "hub")]
    assert read_pairs(tmp_path / "missing.csv", LAB) == []


@pytest.mark.parametrize("student, partner, lab, source", [
    ("a", "a", LAB, "x"), ("a", "zed", LAB, "x"), ("a", "b,c", LAB, "x"), ("a", "b", "../lab", "x"),
    ("a", "b", LAB, "hub\nx,y"),
])
def test_register_pair_refuses_what_is_not_a_pair(tmp_path, student, partner, lab, source):
    with pytest.raises(ValueError):
        register_pair(tmp_path / "pairs.csv", lab, student, partner, source, roster=ROSTER)
    assert not (tmp_path / "pairs.csv").exists()


def test_a_roster_with_an_id_that_is_not_a_directory_name_is_an_error(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("id,first_name\nann,Ann\n*,Everyone\n")
    with pytest.raises(ValueError, match=r"\*"):
        read_roster(path)
