"""lablib: the reference library of the lab kit for *Optimization and Training Deep Networks*.

Modules: data, optim, schedules, nn, clip, backprop, mlp, gradcheck, landscapes (imported with lablib);
plots, widgets (matplotlib / ipywidgets) and grading (the notebooks' checks): import them by name.
Everything is float64; randomness only through an explicit ``numpy.random.Generator``.
"""
from importlib.metadata import PackageNotFoundError, version

from . import backprop, clip, data, gradcheck, landscapes, mlp, nn, optim, schedules

try:
    __version__ = version("lablib")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["backprop", "clip", "data", "gradcheck", "landscapes", "mlp", "nn", "optim", "schedules"]
