"""Exercise definitions, one module per lab; importing this package registers them in ``EXERCISES``.

Adding an exercise is one declarative ``Exercise(...)`` entry plus ``register(...)`` (which refuses an entry that
breaks the rules below). Read lab01.py (small) and lab05.py (everything) as examples.

The parts
* ``reference``: the lablib-based solution with the student's signature (expected values).
* ``public_cases()`` / ``hidden_cases(rng)``: lists of ``Case(label=..., **data)``; hidden cases use other shapes and
  values than the public ones, drawn only from ``rng``; labels never show a hidden seed or random values.
* ``drive(run, fn, case)``: calls ``fn`` through ``run.call`` (``run.call_iter`` for generators), checks structure
  with ``run.unpack`` / ``run.keys``, compares with ``run.record(quantity, value)``. Record EVERY quantity the
  exercise produces (the case runs on after a difference, and a mistake is named only if it reproduces all of
  them, in every case). Observations that explain a difference without naming a cause go in ``note=``;
  ``run.require(ok, quantity, message, mistake=...)`` is for properties of non-unique answers (random masks), and
  names a mistake only when failing the property IMPLIES it (a different mask for the same seed implies randomness
  not drawn from ``rng``; a wrong count does not imply "not stratified"). A backward exercise gets its input from
  ``run.forward(name, *args, shape=...)`` (the student's own forward, which must be usable first) and, where the
  formula allows, is judged against that forward's own values (lab05 ``_bn_grads``).
* ``guarded``: ``resolve("lablib.x.public", "lablib.x.module._kernel", ...)``, unusable during the call.
* ``catalogue``: ``Mistake(name, hint, impl)``, at least 3, ``impl`` a wrong implementation written here in plain
  numpy (never calling a guarded function). A family of one mistake (every rounding of a constant) goes in
  ``variants`` (``_common.rounded_constants``). A mistake that changes an argument in place has ``modifies=`` that
  argument; one that returns an argument's memory has ``aliases=``.

The rules (tests/test_grading_diagnosis.py and test_grading_exercises.py hold every exercise to them)
1. Mutation contract: ``contract="pure"`` (the default: no argument may change) or ``may_modify=(...)`` with a
   contract naming them ("updates `state` only"). State it in the summary, in the lab's text ("Contract: ...")
   and in the solution's docstring. ``unchanged_atol`` only for an argument the function perturbs and restores.
   ``fresh={arg: why}`` for arguments no returned array may share memory with (a state kept across calls must
   not hold the caller's gradient array). Catalogue the in-place version wherever students write it.
2. Edge cases: ``edges=(Edge(what, present), ...)``: the ties, zeros and kinks, confident/extreme values, several
   seeds and calls, non-default hyperparameters, one-row and ragged batches, aliasing a careful reviewer would
   test; ``present(case)`` finds each among the public cases and (unless ``hidden=False``) the hidden ones. Ties
   use numbers exact in binary, so that every correct way of writing the comparison decides them alike.
3. A public case exposes every mistake the hidden cases punish: a student learns each rule before the grade.
4. Tolerance: ``rtol``/``atol`` as tight as the formula allows, with the reason in ``tolerance=`` (the rounding of
   equivalent forms, measured on unusual right implementations, with a margin); a relative tolerance only where
   values span decades. Too loose lets "off by 1e-6" pass, too tight fails right code: add right implementations
   written the unusual ways students write them to UNUSUAL in tests/test_grading_diagnosis.py.
5. Names: add at least three wrong implementations written independently of the catalogue to WRONG in
   tests/test_grading_diagnosis.py, each marked with the mistake it must be named as, or None.
6. float64: the lab's text says so; results that agree only to float32 precision are told so by the engine.
"""
from . import lab01, lab02, lab03, lab04, lab05, lab06, lab07  # noqa: F401
