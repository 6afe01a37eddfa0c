"""Fashion-MNIST loading, minibatches and a (stratified) train/validation split.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence): 28x28 grey-level
images of clothing in 10 classes, 60,000 for training and 10,000 for testing, stored in the
IDX format of the original MNIST.

Two subsets:

* ``"mini"``: 10,000 training images (1,000 per class) and 2,000 test images (200 per class),
  a stratified random subset shipped inside lablib (``lablib/_data/fashion_mnist_mini.npz``,
  built by ``python -m lablib._data.build_mini``; see ``lablib/_data/PROVENANCE.md``).
* ``"full"``: the 70,000 official images, found on disk or downloaded once (see
  :func:`load_fashion_mnist`).

Nothing is cached in memory: every call reads the files again and returns fresh arrays
(the mini set loads in a few tens of milliseconds, the full set in about a second).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from importlib import resources
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from ._validate import _describe, check_finite, check_flag, check_int, check_labels, check_rng

__all__ = [
    "CLASS_NAMES",
    "FashionMNIST",
    "FashionMNISTNotFoundError",
    "FashionMNISTChecksumError",
    "load_fashion_mnist",
    "minibatches",
    "train_val_split",
]

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# The official files, by split. Each may be on disk gzipped (NAME.gz, as distributed) or not (NAME).
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the DECOMPRESSED content. Computed from the official .gz files (whose md5s match
# the ones published in the Fashion-MNIST README) and identical for the copies in Debian's
# dataset-fashion-mnist 0.0~git20200523.55506a9-1, which are re-gzipped (so their .gz bytes
# and md5s differ). Hashing the content makes any faithful copy acceptable.
SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# Official download locations (README of github.com/zalandoresearch/fashion-mnist), tried in order.
URLS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

ENV_VAR = "LABLIB_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
MINI_FILE = "fashion_mnist_mini.npz"

_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes


class FashionMNISTNotFoundError(FileNotFoundError):
    """The full Fashion-MNIST files are neither on disk nor downloadable."""


class FashionMNISTChecksumError(OSError):
    """A Fashion-MNIST file is corrupt or is not the official one."""


class FashionMNIST(NamedTuple):
    """Images and labels of one Fashion-MNIST subset (unpack it or use the attributes)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple

    def __repr__(self) -> str:
        def desc(a):
            return f"{a.dtype}{list(a.shape)}"

        return (
            f"FashionMNIST(X_train={desc(self.X_train)}, y_train={desc(self.y_train)}, "
            f"X_test={desc(self.X_test)}, y_test={desc(self.y_test)}, class_names={len(self.class_names)} names)"
        )


def load_fashion_mnist(subset="mini", *, dtype="float64", flatten=True, data_dir=None, download=True) -> FashionMNIST:
    """Load Fashion-MNIST as ``FashionMNIST(X_train, y_train, X_test, y_test, class_names)``.

    subset: ``"mini"`` (shipped: 10,000 train / 2,000 test, 1,000 / 200 per class) or ``"full"``
        (60,000 / 10,000).
    dtype: ``"float64"`` gives pixels x / 255 in [0, 1]; ``"uint8"`` the raw bytes 0..255.
    flatten: True gives X of shape (n, 784) (row-major pixels), False (n, 28, 28).
    Labels are int64 in 0..9, named by ``CLASS_NAMES``.

    For ``"full"`` the four official files (``NAME.gz`` or uncompressed ``NAME``) are looked for,
    in order, in ``data_dir``, ``$LABLIB_DATA`` (each also in its ``fashion-mnist/`` subfolder),
    the user cache ``platformdirs.user_cache_dir("lablib")/fashion-mnist`` and Debian's
    ``/usr/share/datasets/fashion-mnist`` (``apt install dataset-fashion-mnist``); if none has all
    four they are downloaded into the user cache unless ``download=False``. The SHA-256 of every
    file's decompressed content is checked. Raises :class:`FashionMNISTNotFoundError` (lists where
    it looked and how to fix it) or :class:`FashionMNISTChecksumError` (names the file and hashes).
    """
    if subset not in ("mini", "full"):
        raise ValueError(f"subset must be 'mini' or 'full', got {subset!r}")
    dtype = _check_dtype(dtype)
    for flag, name in ((flatten, "flatten"), (download, "download")):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {type(flag).__name__} {flag!r}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a path (str or os.PathLike) or None, got {type(data_dir).__name__}")

    if subset == "mini":
        arrays = _load_mini()
    else:
        arrays = _read_dataset_dir(_find_or_download(data_dir, download))

    X_train, y_train, X_test, y_test = arrays
    return FashionMNIST(
        _format_images(X_train, dtype, flatten),
        y_train.astype(np.int64),
        _format_images(X_test, dtype, flatten),
        y_test.astype(np.int64),
        CLASS_NAMES,
    )


def _check_dtype(dtype) -> np.dtype:
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in ("float64", "uint8"):
        raise ValueError(f"dtype must be 'float64' or 'uint8', got {dtype!r}")
    return dt


def _format_images(X: np.ndarray, dtype: np.dtype, flatten: bool) -> np.ndarray:
    if flatten:
        X = X.reshape(len(X), -1)
    if dtype == np.float64:
        X = X.astype(np.float64)
        X /= 255.0
    return X


def _load_mini():
    resource = resources.files("lablib._data").joinpath(MINI_FILE)
    with resource.open("rb") as fh, np.load(fh) as npz:
        return npz["X_train"], npz["y_train"], npz["X_test"], npz["y_test"]


# --- locating the full data set -------------------------------------------------------------

def _user_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("lablib")) / "fashion-mnist"


def _file_in(directory: Path, name: str) -> Path | None:
    """The file ``name.gz`` or ``name`` in ``directory``, whichever exists (gz first)."""
    for candidate in (directory / (name + ".gz"), directory / name):
        if candidate.is_file():
            return candidate
    return None


def _missing_in(directory: Path) -> list[str]:
    return [name for name in FILES.values() if _file_in(directory, name) is None]


def _candidate_dirs(data_dir) -> list[tuple[str, Path | None]]:
    """(label, directory) in search order; directory None when the source is not set."""
    candidates = []
    for label, root in (("data_dir argument", data_dir), (f"${ENV_VAR}", os.environ.get(ENV_VAR) or None)):
        if root is None:
            candidates.append((label, None))
        else:
            root = Path(root).expanduser()
            candidates.append((label, root))
            if (root / "fashion-mnist").is_dir():
                candidates.append((label, root / "fashion-mnist"))
    candidates.append(("user cache", _user_cache_dir()))
    candidates.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR))
    return candidates


def _find_or_download(data_dir, download: bool) -> Path:
    looked = []
    for label, directory in _candidate_dirs(data_dir):
        if directory is None:
            looked.append(f"{label}: not set")
            continue
        if not directory.is_dir():
            looked.append(f"{label}: {directory} (no such folder)")
            continue
        missing = _missing_in(directory)
        if not missing:
            return directory
        looked.append(f"{label}: {directory} (missing {', '.join(missing)})")

    if not download:
        raise FashionMNISTNotFoundError(_not_found_message(looked, "Downloading is off (download=False)."))
    cache = _user_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for name in _missing_in(cache):
            _download_file(name, cache)
    except OSError as err:
        raise FashionMNISTNotFoundError(_not_found_message(looked, f"Downloading into {cache} failed: {err}")) from err
    return cache


def _download_file(name: str, directory: Path) -> None:
    errors = []
    for base in URLS:
        url = base + name + ".gz"
        try:
            _download(url, directory / (name + ".gz"))
            return
        except OSError as err:  # urllib's URLError and HTTPError are OSErrors
            errors.append(f"{url}: {err}")
    raise OSError("; ".join(errors))


def _download(url: str, dest: Path) -> None:
    """Fetch ``url`` into ``dest`` atomically (a partial download never takes the final name)."""
    import urllib.request

    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def _not_found_message(looked: list[str], download_note: str) -> str:
    names = ", ".join(name + ".gz" for name in FILES.values())
    return "\n".join(
        [
            "The full Fashion-MNIST data set was not found. Looked in:",
            *(f"  - {line}" for line in looked),
            download_note,
            "To fix it, do one of:",
            f"  - put the four official files ({names}) in a folder and set {ENV_VAR}=/that/folder"
            " (or pass data_dir=...);",
            "  - on Debian/Ubuntu: sudo apt install dataset-fashion-mnist (files in /usr/share/datasets/fashion-mnist);",
            "  - download them from " + " or ".join(URLS) + " (then as above), or call with download=True online;",
            "  - or use load_fashion_mnist('mini'), which ships with lablib.",
        ]
    )


# --- reading and checking the IDX files -----------------------------------------------------

def _read_dataset_dir(directory: Path):
    """(X_train, y_train, X_test, y_test) as uint8 arrays from the four files in ``directory``."""
    arrays = {}
    for key, name in FILES.items():
        path = _file_in(directory, name)
        if path is None:
            raise FashionMNISTNotFoundError(f"{directory} has no {name}.gz or {name}")
        arrays[key] = _parse_idx(_read_verified(path, name), path)
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]


def _read_verified(path: Path, name: str) -> bytes:
    """The decompressed bytes of ``path``, after checking their SHA-256 against ``SHA256[name]``."""
    try:
        raw = path.read_bytes()
        content = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise FashionMNISTChecksumError(f"{path}: cannot decompress ({err}); the file is corrupt, delete it") from err
    actual = hashlib.sha256(content).hexdigest()
    if actual != SHA256[name]:
        raise FashionMNISTChecksumError(
            f"{path}: SHA-256 of the {'decompressed ' if path.suffix == '.gz' else ''}content is {actual}, "
            f"expected {SHA256[name]} (official {name}). The file is corrupt or not the official one: "
            "delete it (it is downloaded again if it was in the cache) or replace it."
        )
    return content


def _parse_idx(content: bytes, path) -> np.ndarray:
    """Parse the IDX format: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions,
    then each dimension as a big-endian uint32, then the data in row-major order."""
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise FashionMNISTChecksumError(f"{path}: not an IDX file (bad magic number)")
    if content[2] != _IDX_UBYTE:
        raise FashionMNISTChecksumError(f"{path}: IDX type code {content[2]:#04x}, expected 0x08 (unsigned byte)")
    ndim = content[3]
    header = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    if len(content) != header + int(np.prod(dims)):
        raise FashionMNISTChecksumError(f"{path}: {len(content) - header} data bytes for dimensions {dims}")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(dims).copy()  # writable


# --- minibatches and splitting --------------------------------------------------------------

def _check_numeric(a: np.ndarray, name: str) -> np.ndarray:
    """Real numbers (any int or float dtype, kept as they are), finite."""
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"{name} must be a real numeric array (int or float), got {_describe(a)}")
    if a.dtype.kind == "f":
        check_finite(a, name)
    return a


def _check_Xy(X, y):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim < 2:
        raise ValueError(f"X must be at least 2-D (one row per example), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"X must have at least one row, got shape {X.shape}")
    if y.ndim < 1 or len(y) != len(X):
        raise ValueError(f"y must have one entry per row of X ({len(X)}), got shape {y.shape}")
    return _check_numeric(X, "X"), _check_numeric(y, "y")


def minibatches(X, y, batch_size, *, rng=None, shuffle=True, drop_last=False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterate over one epoch of ``(X_batch, y_batch)`` pairs.

    shuffle=True visits the rows in the order ``rng.permutation(n)`` (rng required), else in
    order 0..n-1 (the batches are then views of X and y, not copies). Every row appears exactly
    once per epoch; the last batch has n % batch_size rows unless drop_last=True drops it.
    Arguments are checked when called, before the first batch.
    """
    X, y = _check_Xy(X, y)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    shuffle, drop_last = check_flag(shuffle, "shuffle"), check_flag(drop_last, "drop_last")
    if shuffle and rng is None:
        raise TypeError("rng must be a numpy.random.Generator when shuffle=True (e.g. numpy.random.default_rng(0))")
    if rng is not None:
        check_rng(rng)
    return _minibatches(X, y, batch_size, rng=rng, shuffle=shuffle, drop_last=drop_last)


def _minibatches(X, y, batch_size, *, rng=None, shuffle=True, drop_last=False):
    n = len(X)
    stop = n - n % batch_size if drop_last else n
    order = rng.permutation(n) if shuffle else None
    return _batches(X, y, batch_size, stop, order)


def _batches(X, y, batch_size, stop, order):
    for start in range(0, stop, batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield X[idx], y[idx]


def train_val_split(X, y, val_size=0.1, *, rng, stratify=True):
    """Split into ``(X_train, y_train, X_val, y_val)``.

    val_size: a fraction in (0, 1), giving round(val_size * n) validation rows, or an int count
    in [1, n - 1]. stratify=True (y must be 1-D integer labels) gives each class c with n_c rows
    n_val * n_c / n validation rows rounded by the largest-remainder method, so the counts add
    up to n_val and each is within 1 of its exact share. Which rows go where is drawn with
    ``rng``; both parts keep the original relative order of the rows.
    """
    X, y = _check_Xy(X, y)
    check_rng(rng)
    stratify = check_flag(stratify, "stratify")
    n = len(X)
    if isinstance(val_size, (int, np.integer)) and not isinstance(val_size, (bool, np.bool_)):
        n_val = int(val_size)
    elif isinstance(val_size, (float, np.floating)):
        if not 0 < val_size < 1:
            raise ValueError(f"val_size must be a fraction in (0, 1) or an integer count, got {val_size}")
        n_val = int(np.floor(val_size * n + 0.5))
    else:
        raise TypeError(f"val_size must be a float in (0, 1) or an int, got {type(val_size).__name__} {val_size!r}")
    if not 1 <= n_val <= n - 1:
        raise ValueError(f"val_size gives {n_val} validation rows out of {n}; need between 1 and {n - 1}")

    if stratify:
        y = check_labels(y, "y", n=n)
        _, class_of_row = np.unique(y, return_inverse=True)
        counts = np.bincount(class_of_row)
        share = n_val * counts / n
        n_val_per_class = np.floor(share).astype(np.int64)
        short = n_val - n_val_per_class.sum()
        # Largest remainders first; ties go to the lower class label (stable sort).
        n_val_per_class[np.argsort(-(share - n_val_per_class), kind="stable")[:short]] += 1
        val_rows = np.concatenate(
            [rng.permutation(np.flatnonzero(class_of_row == k))[:m] for k, m in enumerate(n_val_per_class)]
        )
    else:
        val_rows = rng.permutation(n)[:n_val]

    is_val = np.zeros(n, dtype=bool)
    is_val[val_rows] = True
    return X[~is_val], y[~is_val], X[is_val], y[is_val]
