"""Neural-network layers in the CS231n style: ``forward(x, ...) -> (out, cache)``,
``backward(dout, cache) -> grads``. Each public function checks its arguments and calls an
unchecked kernel of the same name with a leading underscore (used by training loops)."""
from .activations import (
    ACTIVATION_KERNELS,
    ACTIVATIONS,
    SELU_ALPHA,
    SELU_LAMBDA,
    elu,
    elu_backward,
    elu_derivative,
    elu_forward,
    identity_backward,
    identity_forward,
    leaky_relu,
    leaky_relu_backward,
    leaky_relu_derivative,
    leaky_relu_forward,
    relu,
    relu_backward,
    relu_derivative,
    relu_forward,
    selu,
    selu_backward,
    selu_derivative,
    selu_forward,
    sigmoid,
    sigmoid_backward,
    sigmoid_derivative,
    sigmoid_forward,
    tanh,
    tanh_backward,
    tanh_derivative,
    tanh_forward,
)
from .batchnorm import KERAS_BATCHNORM, TORCH_BATCHNORM, batchnorm_backward, batchnorm_forward, batchnorm_init
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward
from .losses import log_softmax, mse, softmax, softmax_cross_entropy

__all__ = [
    "dense_forward", "dense_backward",
    "sigmoid", "sigmoid_derivative", "sigmoid_forward", "sigmoid_backward",
    "tanh", "tanh_derivative", "tanh_forward", "tanh_backward",
    "relu", "relu_derivative", "relu_forward", "relu_backward",
    "leaky_relu", "leaky_relu_derivative", "leaky_relu_forward", "leaky_relu_backward",
    "elu", "elu_derivative", "elu_forward", "elu_backward",
    "selu", "selu_derivative", "selu_forward", "selu_backward",
    "identity_forward", "identity_backward",
    "ACTIVATIONS", "ACTIVATION_KERNELS", "SELU_LAMBDA", "SELU_ALPHA",
    "softmax", "log_softmax", "softmax_cross_entropy", "mse",
    "TORCH_BATCHNORM", "KERAS_BATCHNORM", "batchnorm_init", "batchnorm_forward", "batchnorm_backward",
    "dropout_forward", "dropout_backward",
]
