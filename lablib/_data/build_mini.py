"""Build lablib/_data/fashion_mnist_mini.npz, the stratified Fashion-MNIST subset shipped with lablib.

    python -m lablib._data.build_mini --source DIR [--output PATH]

DIR holds the four official files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; gzipped or not); their decompressed
content is checked against lablib.data.SHA256 first.

Selection: rng = numpy.random.default_rng(SEED); for the training set, then the test set, and for
each class c = 0..9 in turn, take the first k entries of rng.permutation(indices of class c)
(k = 1,000 for training, 200 for test); the chosen indices are sorted, so the subset keeps the
official order. The archive stores the uint8 images (n, 28, 28), the uint8 labels and the chosen
indices into the official files (train_index, test_index), as a deflate-compressed .npz with
fixed zip timestamps, so that rebuilding with the same numpy gives the same bytes.
"""
from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

from lablib.data import MINI_FILE, _read_dataset_dir

SEED = 20170825  # the date Fashion-MNIST was released (arXiv:1708.07747), as a number
PER_CLASS = {"train": 1000, "test": 200}
DEFAULT_OUTPUT = Path(__file__).with_name(MINI_FILE)


def select(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``per_class`` rows drawn without replacement from each class 0..9."""
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(10)]
    return np.sort(np.concatenate(chosen))


def build_arrays(source: Path) -> dict[str, np.ndarray]:
    X_train, y_train, X_test, y_test = _read_dataset_dir(Path(source))
    rng = np.random.default_rng(SEED)
    train_index = select(y_train, PER_CLASS["train"], rng)
    test_index = select(y_test, PER_CLASS["test"], rng)
    return {
        "X_train": X_train[train_index],
        "y_train": y_train[train_index],
        "X_test": X_test[test_index],
        "y_test": y_test[test_index],
        "train_index": train_index.astype(np.int32),
        "test_index": test_index.astype(np.int32),
    }


def write_npz(arrays: dict[str, np.ndarray], output: Path) -> None:
    """Like numpy.savez_compressed, but with fixed member timestamps (byte-reproducible)."""
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, type=Path, help="folder with the four official files")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}")
    args = parser.parse_args(argv)
    arrays = build_arrays(args.source)
    write_npz(arrays, args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB): "
          f"{len(arrays['X_train'])} train and {len(arrays['X_test'])} test images")


if __name__ == "__main__":
    main()
