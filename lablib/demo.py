"""The instructor's end-to-end demo: ``python -m lablib.demo --out output/demo`` (``make demo``).

Trains an MLP on the bundled Fashion-MNIST subset with everything the course covers switched
on together: Adam with an exponential learning-rate schedule, batch normalization, dropout,
gradient clipping by global norm and early stopping (best weights restored). Prints validation
and test accuracy and saves the training curves as PNG files plus the history as JSON.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def train_showcase(out_dir: Path, *, seed: int = 0, epochs: int = 40, progress: bool = True) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    from . import clip, data, mlp, optim, schedules
    from .plots import plot_history

    rng = np.random.default_rng(seed)
    fm = data.load_fashion_mnist("mini")
    X_train, y_train, X_val, y_val = data.train_val_split(fm.X_train, fm.y_train, 0.1, rng=rng)
    batch_size = 128
    steps_per_epoch = -(-len(y_train) // batch_size)

    model = mlp.MLP([784, 256, 128, 10], "relu", batchnorm=True, dropout=0.3, init="he", rng=rng)
    # Per-iteration schedule: the rate falls tenfold every 8 epochs.
    optimizer = optim.Adam(lr=schedules.exponential(2e-3, s=8 * steps_per_epoch))
    early = mlp.EarlyStopping(patience=8, min_delta=1e-4, restore_best=True)

    def clip_global(grads):
        return clip.clip_by_global_norm(grads, 5.0)[0]

    print(f"model: {model}")
    print(f"data:  {len(y_train)} train / {len(y_val)} validation / {len(fm.y_test)} test images (bundled subset)")
    start = time.perf_counter()
    history = mlp.fit(model, X_train, y_train, optimizer, epochs, batch_size, val=(X_val, y_val),
                      clip=clip_global, early_stopping=early, rng=rng, progress=progress)
    seconds = time.perf_counter() - start
    val_loss, val_acc = mlp.evaluate(model, X_val, y_val)
    test_loss, test_acc = mlp.evaluate(model, fm.X_test, fm.y_test)

    out_dir.mkdir(parents=True, exist_ok=True)
    fig = plot_history(history, title="lablib demo: MLP on the Fashion-MNIST subset")
    fig.savefig(out_dir / "training_curves.png", dpi=120)
    for i, (key, label) in enumerate([("loss", "loss"), ("accuracy", "accuracy"), ("lr", "learning_rate")]):
        extent = fig.axes[i].get_tightbbox(fig.canvas.get_renderer()).transformed(fig.dpi_scale_trans.inverted())
        fig.savefig(out_dir / f"{label}.png", dpi=120, bbox_inches=extent.expanded(1.02, 1.04))
    summary = {
        "epochs_run": history.epochs,
        "best_epoch": None if history.best_epoch is None else history.best_epoch + 1,
        "seconds": round(seconds, 2),
        "val_accuracy": val_acc,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "history": history.as_dict(),
    }
    (out_dir / "history.json").write_text(json.dumps(summary, indent=2))
    print(f"trained {history.epochs} epochs in {seconds:.1f} s "
          f"(best epoch {summary['best_epoch']}, weights restored)")
    print(f"validation accuracy {val_acc:.4f}   test accuracy {test_acc:.4f}   test loss {test_loss:.4f}")
    print(f"plots and history written to {out_dir}/")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("output/demo"), help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    train_showcase(args.out, seed=args.seed, progress=not args.no_progress)


if __name__ == "__main__":
    main()
