"""Experiment cells that use the student's functions before the student has written them."""
from __future__ import annotations

import contextlib

__all__ = ["needs"]


@contextlib.contextmanager
def needs(*exercises: str):
    """Run an experiment only once the exercises it uses are implemented.

        with needs("gradient_descent"):
            path = gradient_descent(df, 1.0, 0.1, 20)
            plt.plot(path)

    A ``NotImplementedError`` raised inside (a released exercise cell not filled in yet) prints one
    line on stdout naming the exercises instead of a traceback; every other exception propagates.
    """
    if not exercises or not all(isinstance(name, str) and name for name in exercises):
        raise ValueError(f"exercises must be one or more exercise names, got {exercises!r}")
    try:
        yield
    except NotImplementedError:
        print(f"⏳ This experiment uses {', '.join(exercises)}: not implemented yet. "
              "It will run once you have written the exercise above.")
