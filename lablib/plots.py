"""Matplotlib figures the labs and the demo share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_history"]


def plot_history(history, *, title=None):
    """Loss, accuracy and learning rate per epoch of a ``lablib.mlp.History``, side by side.

    The best epoch (early stopping) is marked with a dashed line. Returns the figure.
    """
    epochs = np.arange(1, history.epochs + 1)
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    ax_loss.plot(epochs, history.loss, label="train (train mode)")
    ax_acc.plot(epochs, history.accuracy, label="train (train mode)")
    if history.val_loss:
        ax_loss.plot(epochs[: len(history.val_loss)], history.val_loss, label="validation")
        ax_acc.plot(epochs[: len(history.val_accuracy)], history.val_accuracy, label="validation")
    ax_lr.plot(epochs[: len(history.lr)], history.lr, color="tab:green")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_lr.set(xlabel="epoch", ylabel="learning rate (start of epoch)", title="learning rate", yscale="log")
    if history.best_epoch is not None:
        for ax in (ax_loss, ax_acc):
            ax.axvline(history.best_epoch + 1, ls="--", color="grey", label=f"best epoch ({history.best_epoch + 1})")
    for ax in (ax_loss, ax_acc):
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    ax_lr.grid(alpha=0.3, which="both")
    if title:
        fig.suptitle(title)
    return fig
