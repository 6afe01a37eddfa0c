"""Time one training epoch of the same MLP in lablib, in PyTorch (CPU, when installed) and the
epoch's matrix products alone (the floor, what any numpy MLP must pay), and print the ratios.

Model: 784-256-128-10, ReLU, batch norm, dropout 0.2, Adam, batch 128, 60,000 rows, float64.
Run: ``make bench`` (or ``python bench/bench_epoch.py --repeats 3``). For the PyTorch column:
``.venv/bin/pip install torch==2.13.0`` (CPU build). Inputs are random: the cost of an epoch does
not depend on the pixel values. Each figure is the best of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

SIZES = [784, 256, 128, 10]
ROWS, BATCH, DROP = 60_000, 128, 0.2


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def lablib_epoch(X, y, seed):
    from lablib import mlp, optim

    rng = np.random.default_rng(seed)
    model = mlp.MLP(SIZES, "relu", batchnorm=True, dropout=DROP, rng=rng)
    opt = optim.Adam(lr=1e-3)
    return lambda: mlp.fit(model, X, y, opt, 1, BATCH, rng=rng, progress=False)


def floor_epoch(X, seed):
    """The matrix products of one epoch: 3 forward, 3 weight gradients, 2 input gradients
    (the first layer's input gradient is not needed), on preallocated outputs."""
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(a, b)) for a, b in zip(SIZES[:-1], SIZES[1:])]
    n_batches = -(-ROWS // BATCH)

    def run():
        for i in range(n_batches):
            xb = X[i * BATCH:(i + 1) * BATCH]
            acts = [xb]
            for W in Ws:
                acts.append(acts[-1] @ W)
            d = acts[-1]
            for layer in range(len(Ws) - 1, -1, -1):
                acts[layer].T @ d          # dW
                if layer > 0:
                    d = d @ Ws[layer].T    # dx
    return run


def adam_epoch(seed):
    """Only the Adam updates of one epoch (one per batch) on tensors of the model's shapes."""
    from lablib import mlp, optim

    model = mlp.MLP(SIZES, "relu", batchnorm=True, rng=np.random.default_rng(seed))
    grads = {k: np.full_like(p, 1e-3) for k, p in model.params.items()}
    opt = optim.Adam(lr=1e-3)
    n_batches = -(-ROWS // BATCH)

    def run():
        for _ in range(n_batches):
            opt.step(model.params, grads)
    return run


def torch_epoch(X, y, seed, dtype_name):
    import torch

    torch.manual_seed(seed)
    dtype = getattr(torch, dtype_name)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=dtype))
        if i < len(SIZES) - 2:
            layers += [torch.nn.BatchNorm1d(b, dtype=dtype), torch.nn.ReLU(), torch.nn.Dropout(DROP)]
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X).to(dtype), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)

    def run():
        model.train()
        perm = torch.randperm(ROWS, generator=gen)
        for i in range(0, ROWS, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    X = rng.random((ROWS, SIZES[0]))
    y = rng.integers(0, SIZES[-1], ROWS)

    print(f"one epoch: MLP {'-'.join(map(str, SIZES))}, batch norm, dropout {DROP}, Adam, batch {BATCH}, "
          f"{ROWS} rows; best of {args.repeats}; {os.cpu_count()} CPUs")
    floor = best_of(floor_epoch(X, args.seed), args.repeats)
    lab = best_of(lablib_epoch(X, y, args.seed), args.repeats)
    adam = best_of(adam_epoch(args.seed), args.repeats)
    print(f"  matrix products only (floor)  {floor:7.3f} s")
    print(f"  Adam updates only             {adam:7.3f} s")
    print(f"  lablib (float64)              {lab:7.3f} s")
    try:
        import torch
    except ImportError:
        torch = None
        print("  PyTorch                       not installed (pip install torch==2.13.0 for this column)")
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
        t64 = best_of(torch_epoch(X, y, args.seed, "float64"), args.repeats)
        t32 = best_of(torch_epoch(X, y, args.seed, "float32"), args.repeats)
        print(f"  PyTorch {torch.__version__} CPU float64   {t64:7.3f} s")
        print(f"  PyTorch {torch.__version__} CPU float32   {t32:7.3f} s")
    print(f"ratio lablib/floor          = {lab / floor:.2f}   (target <= 2.0)")
    print(f"ratio (floor + Adam)/floor  = {(floor + adam) / floor:.2f}   (matrix products + Adam updates alone)")
    if torch is not None:
        print(f"ratio lablib/torch float64  = {lab / t64:.2f}")
        print(f"ratio lablib/torch float32  = {lab / t32:.2f}")
        print(f"ratio torch float64/floor   = {t64 / floor:.2f}   (the same epoch in PyTorch, for scale)")


if __name__ == "__main__":
    main()
