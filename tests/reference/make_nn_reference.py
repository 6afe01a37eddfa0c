"""Write the framework fixtures nn_*.json used by tests/test_nn_reference.py.

The numbers come from the real frameworks (PyTorch and Keras 3 on its torch backend), in
float64, on inputs drawn here from numpy.random.default_rng with fixed seeds and stored in
the fixtures next to the outputs. lablib is not imported.

Re-run (needs torch and keras installed; takes a few seconds):
    cd /work/main && KERAS_BACKEND=torch /work/devvenv/bin/python tests/reference/make_nn_reference.py
"""
from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")  # must be set before keras is imported

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = Path(__file__).resolve().parent
torch.set_default_dtype(torch.float64)
keras.config.set_floatx("float64")


def t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def arr(x):
    return keras.ops.convert_to_numpy(x).tolist() if not isinstance(x, torch.Tensor) else x.detach().numpy().tolist()


def write(name, data):
    data = {"generator": "tests/reference/make_nn_reference.py",
            "torch": torch.__version__, "keras": keras.__version__, **data}
    (HERE / name).write_text(json.dumps(data, indent=1) + "\n")
    print("wrote", HERE / name)


def batches(rng, shapes, d):
    """Batches with per-feature offsets and scales far from (0, 1), so normalisation matters."""
    offset, scale = rng.normal(0, 3, size=d), rng.uniform(0.5, 4, size=d)
    return [offset + scale * rng.normal(size=(n, d)) for n in shapes]


# ----------------------------------------------------------------------------- batch norm
def torch_batchnorm(seed, d, momentum, eps):
    rng = np.random.default_rng(seed)
    layer = torch.nn.BatchNorm1d(d, momentum=momentum, eps=eps)
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    with torch.no_grad():
        layer.weight.copy_(t(gamma))
        layer.bias.copy_(t(beta))
    steps = []
    for i, x in enumerate(batches(rng, [8, 8, 5, 16], d)):
        train = i < 3  # three train steps, then inference
        layer.train(train)
        dout = rng.normal(size=x.shape)
        xt = t(x, grad=True)
        layer.zero_grad()
        out = layer(xt)
        out.backward(t(dout))
        steps.append({
            "train": train, "x": x.tolist(), "dout": dout.tolist(), "out": arr(out),
            "running_mean": arr(layer.running_mean), "running_var": arr(layer.running_var),
            "dx": arr(xt.grad), "dgamma": arr(layer.weight.grad), "dbeta": arr(layer.bias.grad),
        })
    return {"framework": "torch.nn.BatchNorm1d", "torch_momentum": momentum, "eps": eps,
            "gamma": gamma.tolist(), "beta": beta.tolist(), "steps": steps}


def keras_batchnorm(seed, d, **kwargs):
    rng = np.random.default_rng(seed)
    layer = keras.layers.BatchNormalization(dtype="float64", **kwargs)
    layer.build((None, d))
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    steps = []
    for i, x in enumerate(batches(rng, [8, 8, 5, 16], d)):
        train = i < 3
        out = layer(x, training=train)
        steps.append({"train": train, "x": x.tolist(), "out": arr(out),
                      "running_mean": arr(layer.moving_mean), "running_var": arr(layer.moving_variance)})
    return {"framework": "keras.layers.BatchNormalization", "keras_momentum": layer.momentum,
            "eps": layer.epsilon, "gamma": gamma.tolist(), "beta": beta.tolist(), "steps": steps}


# ----------------------------------------------------------------------------- activations
X_ACT = [-30.0, -5.0, -1.5, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.5, 5.0, 30.0]


def torch_activation(fn):
    x = t(X_ACT, grad=True)
    out = fn(x)
    out.sum().backward()  # elementwise, so the gradient of the sum is the derivative
    return {"value": arr(out), "derivative": arr(x.grad)}


def keras_activation(fn):
    x = t(X_ACT, grad=True)  # keras ops on the torch backend run torch autograd
    out = fn(x)
    out.sum().backward()
    return {"value": arr(out), "derivative": arr(x.grad)}


def default(callable_, param):
    return inspect.signature(callable_).parameters[param].default


def activations():
    leaky_layer_default = default(keras.layers.LeakyReLU.__init__, "negative_slope")
    leaky_fn_default = default(keras.activations.leaky_relu, "negative_slope")
    elu_default = default(keras.activations.elu, "alpha")
    torch_leaky_default = default(F.leaky_relu, "negative_slope")
    torch_elu_default = default(F.elu, "alpha")
    cases = {
        "torch_relu": {"name": "relu", **torch_activation(F.relu)},
        "torch_sigmoid": {"name": "sigmoid", **torch_activation(torch.sigmoid)},
        "torch_tanh": {"name": "tanh", **torch_activation(torch.tanh)},
        "torch_leaky_relu_default": {"name": "leaky_relu", "alpha": torch_leaky_default,
                                     **torch_activation(F.leaky_relu)},
        "torch_leaky_relu_0.2": {"name": "leaky_relu", "alpha": 0.2,
                                 **torch_activation(lambda x: F.leaky_relu(x, 0.2))},
        "torch_elu_default": {"name": "elu", "alpha": torch_elu_default, **torch_activation(F.elu)},
        "torch_elu_0.5": {"name": "elu", "alpha": 0.5, **torch_activation(lambda x: F.elu(x, 0.5))},
        "torch_elu_2": {"name": "elu", "alpha": 2.0, **torch_activation(lambda x: F.elu(x, 2.0))},
        "torch_selu": {"name": "selu", **torch_activation(F.selu)},
        "keras_LeakyReLU_layer_default": {"name": "leaky_relu", "alpha": leaky_layer_default,
                                          **keras_activation(keras.layers.LeakyReLU())},
        "keras_leaky_relu_function_default": {"name": "leaky_relu", "alpha": leaky_fn_default,
                                              **keras_activation(keras.activations.leaky_relu)},
        "keras_elu_default": {"name": "elu", "alpha": elu_default, **keras_activation(keras.activations.elu)},
        "keras_selu": {"name": "selu", **keras_activation(keras.activations.selu)},
    }
    selu = torch.nn.SELU()
    constants = {"torch_selu_lambda_alpha_from_value": [
        float(selu(t([1.0]))[0]),                  # lambda * 1
        float(selu(t([-50.0]))[0]) / -float(selu(t([1.0]))[0]),  # lambda*alpha*(e^-50 - 1) / -lambda ~ alpha
    ]}
    return {"x": X_ACT, "cases": cases, **constants}


# ----------------------------------------------------------------------------- losses
def keras_mean(per_example):
    """Keras' default reduction ('sum_over_batch_size', a mean) of per-example float64 losses.

    Averaged in numpy: on the torch backend the Loss classes return float32, and keras.ops.mean
    along an axis (inside keras.losses.mean_squared_error) is only float32-accurate (~1e-7).
    """
    return float(np.mean(keras.ops.convert_to_numpy(per_example)))


def cross_entropy_case(logits, y):
    lt = t(logits, grad=True)
    loss = F.cross_entropy(lt, torch.tensor(y))
    loss.backward()
    keras_loss = keras.losses.sparse_categorical_crossentropy(np.array(y), logits, from_logits=True)
    return {"logits": logits.tolist(), "y": list(map(int, y)), "loss": float(loss.detach()), "dlogits": arr(lt.grad),
            "keras_loss": keras_mean(keras_loss)}


def losses():
    rng = np.random.default_rng(3)
    ce = [
        cross_entropy_case(rng.normal(0, 3, size=(6, 4)), rng.integers(0, 4, size=6)),
        cross_entropy_case(rng.normal(0, 1, size=(1, 10)), np.array([7])),
        # huge logits: the naive exp overflows
        cross_entropy_case(np.array([[1000.0, 0.0, -1000.0], [-1e4, 1e4, 5e3], [800.0, 800.0, 799.0]]),
                           np.array([0, 2, 2])),
    ]
    pred, target = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    pt = t(pred, grad=True)
    loss = F.mse_loss(pt, t(target))
    loss.backward()
    mse = {"pred": pred.tolist(), "target": target.tolist(), "loss": float(loss.detach()), "dpred": arr(pt.grad),
           "keras_loss": keras_mean(keras.losses.mean_squared_error(target, pred))}
    squared = {"pred": pred.tolist(), "target": target.tolist()}
    for name, factor, reduction in (("mse_sum", 1.0, "sum"), ("half_mse_mean", 0.5, "mean"),
                                    ("half_mse_sum", 0.5, "sum")):
        pt = t(pred, grad=True)
        loss = factor * F.mse_loss(pt, t(target), reduction=reduction)
        loss.backward()
        squared[name] = {"loss": float(loss.detach()), "dpred": arr(pt.grad)}
    # Keras: 0.5 * MeanSquaredError (mean) and the per-example sum times N (sum)
    squared["keras_half_mse_mean"] = 0.5 * keras_mean(keras.losses.mean_squared_error(target, pred))
    x = rng.normal(0, 5, size=(2, 3, 4))
    softmax = {"x": x.tolist(),
               "softmax_axis1": arr(torch.softmax(t(x), dim=1)),
               "softmax_axis-1": arr(torch.softmax(t(x), dim=-1)),
               "log_softmax_axis-1": arr(torch.log_softmax(t(x), dim=-1))}
    return {"cross_entropy": ce, "mse": mse, "squared_errors": squared, "softmax": softmax}


if __name__ == "__main__":
    write("nn_batchnorm.json", {
        "torch_default": torch_batchnorm(0, 4, momentum=0.1, eps=1e-5),
        "torch_custom": torch_batchnorm(1, 3, momentum=0.25, eps=1e-3),
        "keras_default": keras_batchnorm(2, 4),
        "keras_custom": keras_batchnorm(3, 3, momentum=0.9, epsilon=1e-5),
    })
    write("nn_activations.json", activations())
    write("nn_losses.json", losses())
