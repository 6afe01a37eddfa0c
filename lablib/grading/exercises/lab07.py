"""lab07, transfer learning: splitting a labelled set into a pretraining task and a new binary task, drawing a
few-shot stratified sample, and summarising accuracies over seeds.

lablib has no transfer-learning data helpers, so the references are written here (plain numpy) and are the
guarded functions themselves (together with ``lablib.data.train_val_split``, lablib's stratified splitter).

* ``split_tasks`` is compared order-free: each returned row of X is traced back to its row number in the case's
  X (the rows are distinct), and the sorted row numbers and the labels of those rows are compared.
* ``few_shot_sample`` is random, so it is checked by properties: integer indices into y, no repeats,
  exactly n_per_class rows of every class, the same sample for two calls with equal seeds and another sample
  for other seeds.
* ``seed_summary`` is compared by value: mean and standard error over the seeds (axis 0).

All three are pure: X, y, the class lists and acc are left unchanged (the rng moves on).

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* split_tasks: pretrain_classes not in sorted order, a pretraining class whose NEW label is an earlier class
  number (relabelling one class at a time then collides), task classes interleaved with the pretraining ones,
  classes in neither task.
* few_shot_sample: two classes and several, non-contiguous class numbers, a class with exactly n_per_class rows
  (the sample is all of them), several seeds and two calls with one generator.
* seed_summary: two seeds (the fewest ddof=1 allows), one method, never a square table (the axis shows).
"""
from __future__ import annotations

import numpy as np

from ..engine import Case, Edge, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import other_shape

# ---------------------------------------------------------------------------------------------------------
# split_tasks: (X_pre, y_pre) = the rows of pretrain_classes, labels re-indexed 0..k-1 in the order given;
# (X_task, y_task) = the rows of task_classes = (negative, positive), labels 0 / 1.


def split_tasks(X, y, pretrain_classes, task_classes):
    X, y = np.asarray(X), np.asarray(y)
    pretrain_classes = list(pretrain_classes)
    negative, positive = task_classes
    pre = np.isin(y, pretrain_classes)
    lookup = {c: k for k, c in enumerate(pretrain_classes)}
    y_pre = np.array([lookup[c] for c in y[pre]], dtype=np.int64)
    task = (y == negative) | (y == positive)
    return X[pre], y_pre, X[task], (y[task] == positive).astype(np.int64)


def _labels(rng, n_classes, n):
    """n labels in 0..n_classes-1, every class at least twice, shuffled."""
    return rng.permutation(np.resize(np.arange(n_classes), n)).astype(np.int64)


def _split_case(rng, n, d, n_classes, pretrain, task):
    label = (f"X of shape ({n}, {d}), y with {n_classes} classes, pretrain_classes={list(pretrain)}, "
             f"task_classes={tuple(task)}")
    return Case(label=label, X=rng.normal(size=(n, d)), y=_labels(rng, n_classes, n), pretrain=list(pretrain),
                task=tuple(task))


def _split_public():
    rng = np.random.default_rng(70)
    return [_split_case(rng, 40, 4, 10, [0, 1, 2, 3, 4, 7, 8, 9], (6, 5)),  # Fashion-MNIST: shirt vs sandal
            _split_case(rng, 30, 3, 6, [4, 0, 2], (5, 1)),
            _split_case(rng, 25, 2, 5, [3, 1], (0, 4))]


def _split_hidden(rng):
    cases, shapes = [], [(40, 4), (30, 3), (25, 2)]
    for _ in range(2):
        n, d = other_shape(rng, (26, 2), (45, 5), avoid=shapes)
        shapes.append((n, d))
        n_classes = int(rng.integers(5, 10))
        k = int(rng.integers(2, n_classes - 2))  # at least one class in neither task
        # k pretraining classes: 0, never first (relabelling one class at a time then collides), and one class >= k
        # (raw labels then differ from sorted ranks), in a random order; the task: two of the rest
        others = [int(c) for c in rng.permutation(np.arange(1, n_classes))]
        big = next(c for c in others if c >= k)
        rest = [c for c in others if c != big]
        pretrain = [big, *rest[:k - 2]]
        pretrain.insert(int(rng.integers(1, k)), 0)
        cases.append(_split_case(rng, n, d, n_classes, pretrain, (rest[k - 2], rest[k - 1])))
    return cases


def _drive_split(run, fn, c):
    out = run.unpack(run.call(fn, c.X, c.y, list(c.pretrain), tuple(c.task)), 4,
                     "the return value (X_pre, y_pre, X_task, y_task)")
    row_number = {row.tobytes(): i for i, row in enumerate(c.X)}
    for part, name_X, name_y, Xp, yp in (("pretraining", "X_pre", "y_pre", out[0], out[1]),
                                         ("task", "X_task", "y_task", out[2], out[3])):
        Xp, yp = np.asarray(Xp), np.asarray(yp)
        run.require(Xp.ndim == 2 and Xp.shape[1] == c.X.shape[1], name_X,
                    f"should be a 2-D array of rows of X, shape (rows, {c.X.shape[1]}), got shape {Xp.shape}")
        run.require(yp.shape == (len(Xp),), name_y,
                    f"should hold one label per row of {name_X}, shape ({len(Xp)},), got shape {yp.shape}")
        run.require(yp.dtype.kind in "iu", name_y,
                    f"should hold integer class numbers (e.g. .astype(np.int64)), got dtype {yp.dtype}")
        rows = np.array([row_number.get(np.asarray(r, dtype=np.float64).tobytes(), -1) for r in Xp], dtype=np.int64)
        run.require(bool(np.all(rows >= 0)), name_X, "contains a row that is not a row of X (select rows of X, "
                    "do not change them)")
        order = np.argsort(rows, kind="stable")
        run.record(f"the {part} set's rows (their row numbers in X, sorted)", rows[order])
        run.record(f"{name_y} (the labels of those rows, in the same order)", yp[order])


def _split_variant(*, raw=False, sorted_order=False, swapped=False, one_vs_rest=False, one_at_a_time=False,
                   in_place=False):
    def split(X, y, pretrain_classes, task_classes):
        X, y = np.asarray(X), np.asarray(y)
        classes = list(pretrain_classes)
        negative, positive = task_classes
        pre = np.isin(y, classes)
        if one_at_a_time or in_place:
            labels = y if in_place else y.copy()
            for j, c in enumerate(classes):  # a class relabelled j collides with a later class numbered j
                labels[labels == c] = j
            task = np.isin(y, [negative, positive])
            return X[pre], labels[pre], X[task], (y[task] == positive).astype(np.int64)
        if raw:
            y_pre = y[pre]
        elif sorted_order:
            y_pre = np.searchsorted(np.sort(classes), y[pre])
        else:
            y_pre = np.array([classes.index(c) for c in y[pre]])
        task = np.ones(len(y), dtype=bool) if one_vs_rest else np.isin(y, [negative, positive])
        y_task = (y[task] == (negative if swapped else positive)).astype(np.int64)
        return X[pre], y_pre, X[task], y_task
    return split


SPLIT_TASKS = Exercise(
    name="split_tasks",
    lab="lab07",
    signature="def split_tasks(X, y, pretrain_classes, task_classes):",
    summary="Return (X_pre, y_pre, X_task, y_task): the rows whose class is in pretrain_classes with labels "
            "re-indexed 0..k-1 in the order given (pretrain_classes[j] -> j), and the rows of the two classes "
            "task_classes = (negative, positive) with labels 0 / 1 (positive -> 1); every other row is left out. "
            "Pure: X, y and the class lists are not modified.",
    reference=split_tasks,
    drive=_drive_split,
    public_cases=_split_public,
    hidden_cases=_split_hidden,
    guarded=resolve("lablib.grading.exercises.lab07.split_tasks"),
    catalogue=(
        Mistake("pretraining labels not re-indexed", "the pretraining network has k outputs: relabel class "
                "pretrain_classes[j] as j (labels 0..k-1), do not keep the original class numbers",
                _split_variant(raw=True)),
        Mistake("re-indexed in sorted order", "re-index in the order pretrain_classes is GIVEN (its j-th entry "
                "becomes label j), not in sorted order", _split_variant(sorted_order=True)),
        Mistake("positive class swapped", "task_classes is (negative, positive): the SECOND class gets label 1",
                _split_variant(swapped=True)),
        Mistake("one-vs-rest task set", "keep only the rows of the two task classes: the other classes' rows "
                "(pretraining classes included) must not leak into the task set as negatives",
                _split_variant(one_vs_rest=True)),
        Mistake("relabelled one class at a time", "`y_pre[y_pre == c] = j` class after class relabels again the "
                "rows already given a label j that is also a later class number: map every class at once, e.g. "
                "`np.array([pretrain_classes.index(c) for c in y_pre])`", _split_variant(one_at_a_time=True)),
        Mistake("y relabelled in place", "`y[y == c] = j` changes the caller's labels (and the task set is then "
                "built from the wrong ones): relabel a copy, or build the new labels from y",
                _split_variant(in_place=True), modifies="y"),
    ),
    rtol=0.0, atol=0.0, tolerance="row numbers and labels are integers: compared exactly",
    edges=(
        Edge("pretrain_classes not in sorted order", lambda c: list(c.pretrain) != sorted(c.pretrain)),
        Edge("a pretraining class whose new label is an earlier class number (relabelling one at a time collides)",
             lambda c: any(cls < j for j, cls in enumerate(c.pretrain))),
        Edge("task classes interleaved with the pretraining ones",
             lambda c: min(c.task) < max(c.pretrain) and max(c.task) > min(c.pretrain), hidden=False),
        Edge("classes in neither task", lambda c: bool(set(c.y.tolist()) - set(c.pretrain) - set(c.task))),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# few_shot_sample: n_per_class distinct row indices of every class of y, drawn with rng (checked by properties)


def few_shot_sample(y, n_per_class, rng):
    y = np.asarray(y)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), size=n_per_class, replace=False)
                           for c in np.unique(y)])


def _sample_case(rng, sizes, classes, n_per_class, seed, hidden=False):
    y = rng.permutation(np.repeat(np.asarray(classes, dtype=np.int64), sizes))
    label = (f"y of shape ({len(y)},) with classes {list(classes)} ({', '.join(map(str, sizes))} rows), "
             f"n_per_class={n_per_class}, rng=np.random.default_rng({'seed' if hidden else seed})")
    return Case(label=label, y=y, n_per_class=n_per_class, seed=seed)


def _sample_public():
    rng = np.random.default_rng(71)
    return [_sample_case(rng, (25, 25), (0, 1), 5, 0),
            _sample_case(rng, (8, 12, 15, 10, 9), (2, 5, 6, 7, 9), 4, 1),
            _sample_case(rng, (6, 6, 6), (0, 1, 2), 6, 2)]  # every row of every class: no room for repeats


def _sample_hidden(rng):
    seeds = [int(s) for s in rng.integers(10**6, size=3)]
    k = int(rng.integers(4, 7))
    classes = np.sort(rng.choice(np.arange(12), size=k, replace=False))
    n = int(rng.integers(3, 6))
    take_all = int(rng.integers(7, 10))
    return [_sample_case(rng, (int(rng.integers(30, 45)),) * 2, (0, 1), int(rng.integers(3, 7)), seeds[0], True),
            _sample_case(rng, tuple(int(s) for s in rng.integers(n + 3, 20, size=k)), tuple(int(c) for c in classes),
                         n, seeds[1], True),
            _sample_case(rng, (take_all,) * 4, (0, 1, 2, 3), take_all, seeds[2], True)]


def _drive_sample(run, fn, c):
    classes, sizes = np.unique(c.y, return_counts=True)
    if not run.student:  # the reference (and catalogued mistakes): the counts per class, for the record
        idx = np.asarray(run.call(fn, c.y, c.n_per_class, np.random.default_rng(c.seed)))
        run.record("rows sampled per class", np.array([np.sum(c.y[idx] == k) for k in classes]))
        return

    def sample(seed_or_rng):
        rng = seed_or_rng if isinstance(seed_or_rng, np.random.Generator) else np.random.default_rng(seed_or_rng)
        out = run.call(fn, c.y.copy(), c.n_per_class, rng)
        run.check_array("the returned indices", out, (len(classes) * c.n_per_class,))
        out = np.asarray(out)
        run.require(out.dtype.kind in "iu", "the returned indices",
                    f"should be integer row numbers into y (an integer numpy array), got dtype {out.dtype}")
        return out

    idx = sample(c.seed)
    run.require(bool(np.all((idx >= 0) & (idx < len(c.y)))), "the returned indices",
                f"must be row numbers of y, between 0 and {len(c.y) - 1}; got values from {idx.min()} to {idx.max()}")
    repeats = len(idx) - len(np.unique(idx))
    run.require(repeats == 0, "the returned indices", f"contain {repeats} repeated row(s): a sample of distinct "
                "rows is drawn WITHOUT replacement", mistake="with replacement")
    counts = np.array([np.sum(c.y[idx] == k) for k in classes])
    # right total, uneven classes: the sample ignored the classes (a count off everywhere is another mistake)
    unstratified = counts.sum() == len(classes) * c.n_per_class and len(set(counts.tolist())) > 1
    run.require(np.all(counts == c.n_per_class), "rows sampled per class",
                f"are {dict(zip(classes.tolist(), counts.tolist()))} for the classes of y; expected n_per_class = "
                f"{c.n_per_class} of every class", mistake="not stratified" if unstratified else None)
    run.record("rows sampled per class", counts)
    again = sample(c.seed)
    run.require(np.array_equal(np.sort(again), np.sort(idx)), "the sample",
                "two calls with rng=np.random.default_rng(same seed) drew different rows: draw with the rng "
                "argument", mistake="rng ignored")
    if np.all(sizes == c.n_per_class):
        return  # the sample is every row: nothing random left to check
    others = [np.sort(sample(c.seed + k)) for k in (1, 2)]
    if all(np.array_equal(o, np.sort(idx)) for o in others):
        first = np.sort(np.concatenate([np.flatnonzero(c.y == k)[:c.n_per_class] for k in classes]))
        run.require(False, "the sample", "is the same for three different seeds: it must be drawn at random with "
                    "the rng argument", mistake="first n of each class" if np.array_equal(first, np.sort(idx))
                    else "sample independent of the seed")
    rng = np.random.default_rng(c.seed)
    first, second = np.sort(sample(rng)), np.sort(sample(rng))
    run.require(not np.array_equal(first, second), "the sample",
                "two calls with ONE generator drew the same rows: draw with the rng you are given (it moves on), "
                "not with a copy of it")


def _sample_variant(kind):
    def sample(y, n_per_class, rng):
        y = np.asarray(y)
        classes = np.unique(y)
        if kind == "not_stratified":
            return rng.choice(len(y), size=len(classes) * n_per_class, replace=False)
        if kind in ("own_rng", "fixed_seed"):
            rng = np.random.default_rng(0 if kind == "fixed_seed" else None)
        if kind == "first":
            return np.concatenate([np.flatnonzero(y == c)[:n_per_class] for c in classes])
        return np.concatenate([rng.choice(np.flatnonzero(y == c), size=n_per_class, replace=kind == "replace")
                               for c in classes])
    return sample


FEW_SHOT_SAMPLE = Exercise(
    name="few_shot_sample",
    lab="lab07",
    signature="def few_shot_sample(y, n_per_class, rng):",
    summary="Return an integer array of row indices into y: n_per_class distinct rows of EVERY class in y (a "
            "stratified sample without replacement), drawn at random with the rng argument; any order. Pure: y is "
            "not modified (rng moves on).",
    reference=few_shot_sample,
    drive=_drive_sample,
    public_cases=_sample_public,
    hidden_cases=_sample_hidden,
    guarded=resolve("lablib.grading.exercises.lab07.few_shot_sample", "lablib.data.train_val_split"),
    catalogue=(
        Mistake("not stratified", "draw n_per_class rows from EACH class: for every class c in np.unique(y), "
                "choose among np.flatnonzero(y == c)", _sample_variant("not_stratified")),
        Mistake("with replacement", "a row may be chosen only once: rng.choice(..., replace=False) or "
                "rng.permutation(rows)[:n_per_class]", _sample_variant("replace")),
        Mistake("rng ignored", "draw with the rng argument (rng.choice / rng.permutation), not np.random or a new "
                "unseeded Generator, so that a seed reproduces the sample", _sample_variant("own_rng")),
        Mistake("sample independent of the seed", "every seed gave the same sample: draw it with the rng argument "
                "(a Generator made inside the function with a fixed seed, or a fixed choice of rows, ignores it)",
                _sample_variant("fixed_seed")),
        Mistake("first n of each class", "the first n_per_class rows of each class are not a random sample: "
                "choose them at random with rng", _sample_variant("first")),
    ),
    rtol=0.0, atol=0.0, tolerance="row counts per class are integers: compared exactly; the rest are properties",
    edges=(
        Edge("two classes", lambda c: len(np.unique(c.y)) == 2),
        Edge("several classes with non-contiguous numbers", lambda c: len(np.unique(c.y)) > 2
             and np.unique(c.y).max() >= len(np.unique(c.y))),
        Edge("a class with exactly n_per_class rows (the sample is all of them)",
             lambda c: np.min(np.unique(c.y, return_counts=True)[1]) == c.n_per_class),
        Edge("several seeds and two calls with one generator",
             lambda c: np.min(np.unique(c.y, return_counts=True)[1]) > c.n_per_class),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# seed_summary: acc of shape (n_seeds, n_methods) -> (mean over seeds, standard error of that mean)


def seed_summary(acc):
    acc = np.asarray(acc, dtype=np.float64)
    return acc.mean(axis=0), acc.std(axis=0, ddof=1) / np.sqrt(acc.shape[0])


def _summary_case(acc):
    return Case(label=f"acc of shape {acc.shape} (seeds, methods)", acc=acc)


def _summary_public():
    rng = np.random.default_rng(72)
    return [_summary_case(np.array([[0.80, 0.90], [0.70, 0.95], [0.75, 0.85]])),
            _summary_case(np.round(rng.uniform(0.5, 1.0, size=(5, 3)), 3)),
            _summary_case(rng.uniform(0.6, 1.0, size=(8, 4))),
            _summary_case(np.array([[0.625, 0.75, 0.5], [0.875, 0.5, 0.75]])),   # two seeds: ddof=1 divides by 1
            _summary_case(rng.uniform(0.6, 1.0, size=(4, 1)))]                  # one method


def _summary_hidden(rng):
    shapes = []
    while len(shapes) < 2:
        shape = other_shape(rng, (4, 2), (10, 5), avoid=[(3, 2), (5, 3), (8, 4)] + shapes)
        if shape[0] != shape[1]:  # square: averaging over the wrong axis would keep the shape
            shapes.append(shape)
    return [_summary_case(rng.uniform(0.5, 1.0, size=shape)) for shape in shapes] + [
        _summary_case(rng.uniform(0.5, 1.0, size=(2, int(rng.integers(3, 6))))),
        _summary_case(rng.uniform(0.5, 1.0, size=(int(rng.integers(3, 8)), 1)))]


def _drive_summary(run, fn, c):
    mean, sem = run.unpack(run.call(fn, c.acc), 2, "the return value (mean, sem)")
    run.record("mean (one per method: average over the seeds, axis 0)", mean)
    run.record("sem (standard error of the mean: std with ddof=1 / sqrt(n_seeds))", sem)


def _summary_variant(kind):
    def summary(acc):
        if kind == "in_place":  # centre the table itself to get the deviations
            n = acc.shape[0]
            mean = acc.mean(axis=0)
            acc -= mean
            return mean, np.sqrt((acc**2).sum(axis=0) / (n - 1)) / np.sqrt(n)
        acc = np.asarray(acc, dtype=np.float64)
        axis = 1 if kind == "axis" else 0
        n = acc.shape[axis]
        std = acc.std(axis=axis, ddof=0 if kind == "ddof0" else 1)
        sem = {"std": std, "over_n": std / n}.get(kind, std / np.sqrt(n))
        return acc.mean(axis=axis), sem
    return summary


SEED_SUMMARY = Exercise(
    name="seed_summary",
    lab="lab07",
    signature="def seed_summary(acc):",
    summary="acc has one row per seed and one column per method: return (mean, sem), the mean over the seeds and "
            "its standard error sem = s / sqrt(n_seeds), s the sample standard deviation (ddof=1), both per column. "
            "Pure: acc is not modified.",
    reference=seed_summary,
    drive=_drive_summary,
    public_cases=_summary_public,
    hidden_cases=_summary_hidden,
    guarded=resolve("lablib.grading.exercises.lab07.seed_summary"),
    catalogue=(
        Mistake("population std (ddof=0)", "the seeds are a sample: use the sample standard deviation, "
                "np.std(..., ddof=1) (divide by n_seeds - 1)", _summary_variant("ddof0")),
        Mistake("std instead of standard error", "the uncertainty of a MEAN over n seeds is s / sqrt(n_seeds), "
                "not the spread s of the single runs", _summary_variant("std")),
        Mistake("divided by n instead of sqrt(n)", "the standard error is s / sqrt(n_seeds)",
                _summary_variant("over_n")),
        Mistake("averaged over the wrong axis", "rows are seeds, columns are methods: average over axis 0 (one "
                "value per method)", _summary_variant("axis")),
        Mistake("acc centred in place", "`acc -= mean` changes the caller's table of accuracies: compute the "
                "deviations as a new array, `acc - mean`", _summary_variant("in_place"), modifies="acc"),
    ),
    rtol=1e-10, atol=1e-12,
    tolerance="a mean and a two-pass standard deviation over at most 10 seeds are exact to a few ulps, but the "
              "one-pass formula sqrt((sum a**2 - n mean**2) / (n - 1)) students also write loses eps·mean**2/var "
              "relative (about 1e-12 when two seeds nearly agree, 1e-13 absolute): rtol 1e-10, atol 1e-12; every "
              "catalogued mistake changes sem by 5% or more",
    edges=(
        Edge("two seeds (the fewest ddof=1 allows)", lambda c: c.acc.shape[0] == 2),
        Edge("one method", lambda c: c.acc.shape[1] == 1),
        Edge("several seeds and methods, never a square table", lambda c: 2 < c.acc.shape[0] != c.acc.shape[1] > 1),
    ),
)

register(SPLIT_TASKS, FEW_SHOT_SAMPLE, SEED_SUMMARY)
