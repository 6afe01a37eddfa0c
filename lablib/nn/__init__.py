"""Neural-network layers in the CS231n style: ``forward(x, ...) -> (out, cache)``,
``backward(dout, cache) -> grads``. Each public function checks its arguments and calls an
unchecked kernel of the same name with a leading underscore (used by training loops)."""
from . import activations
from .activations import *  # noqa: F403  (the names in activations.__all__)
from .batchnorm import (
    COURSE_BATCHNORM,
    KERAS_BATCHNORM,
    TORCH_BATCHNORM,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_init,
)
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward
from .losses import half_mse, log_softmax, mse, softmax, softmax_cross_entropy

__all__ = [
    "dense_forward", "dense_backward",
    "softmax", "log_softmax", "softmax_cross_entropy", "mse", "half_mse",
    "COURSE_BATCHNORM", "TORCH_BATCHNORM", "KERAS_BATCHNORM", "batchnorm_init", "batchnorm_forward", "batchnorm_backward",
    "dropout_forward", "dropout_backward",
] + activations.__all__
