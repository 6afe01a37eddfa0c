import pytest

from lablib.grading import needs


def unwritten(*args):
    raise NotImplementedError()


def test_needs_turns_not_implemented_into_one_line(capsys):
    with needs("gradient_descent"):
        unwritten()
        raise AssertionError("not reached")
    out, err = capsys.readouterr()
    assert out.startswith("⏳ This experiment uses gradient_descent: not implemented yet.") and err == ""


def test_needs_lets_every_other_error_through_and_runs_implemented_code(capsys):
    with pytest.raises(ZeroDivisionError):
        with needs("f"):
            1 / 0
    ran = []
    with needs("f", "df"):
        ran.append(True)
    assert ran == [True] and capsys.readouterr() == ("", "")


def test_needs_wants_exercise_names():
    with pytest.raises(ValueError, match="exercises"):
        with needs():
            pass
