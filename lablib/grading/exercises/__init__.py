"""Exercise definitions, one module per lab; importing this package registers them in ``EXERCISES``.

Adding an exercise is one declarative ``Exercise(...)`` entry plus ``register(...)``:

* ``reference``: the lablib-based solution with the student's signature (expected values);
* ``public_cases()`` / ``hidden_cases(rng)``: lists of ``Case(label=..., **data)``; hidden cases use other
  shapes and values than the public ones, drawn only from ``rng``; labels never show a hidden seed;
* ``drive(run, fn, case)``: calls ``fn`` through ``run.call`` (or ``run.call_iter`` for generators), checks the
  structure with ``run.unpack`` / ``run.keys``, and compares with ``run.record(quantity, value)``; properties of
  non-unique answers use ``run.require(ok, quantity, message, mistake=...)``; ``run.partner(name)`` is another
  lab function the check needs (the student's own, e.g. the forward pass of a backward exercise);
* ``guarded``: ``resolve("lablib.x.public", "lablib.x.module._kernel", ...)``, unusable during the call;
* ``catalogue``: ``Mistake(name, hint, impl)`` with ``impl`` a wrong implementation (at least 3).
"""
from . import lab01, lab02, lab03, lab04, lab05, lab06, lab07  # noqa: F401
