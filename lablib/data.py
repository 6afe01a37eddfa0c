"""Fashion-MNIST and CIFAR-10 loading, minibatches and a (stratified) train/validation split.

Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence): 28x28 grey-level
images of clothing in 10 classes, 60,000 for training and 10,000 for testing, stored in the
IDX format of the original MNIST.

Two subsets:

* ``"mini"``: 10,000 training images (1,000 per class) and 2,000 test images (200 per class),
  a stratified random subset shipped inside lablib (``lablib/_data/fashion_mnist_mini.npz``,
  built by ``python -m lablib._data.build_mini``; see ``lablib/_data/PROVENANCE.md``).
* ``"full"``: the 70,000 official images, found on disk or downloaded once (see
  :func:`load_fashion_mnist`).

CIFAR-10 (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html): 32x32 colour images in 10
classes, 50,000 for training and 10,000 for testing, read from the official BINARY distribution
(``cifar-10-binary.tar.gz``, 162 MB, not bundled with lablib: see :func:`load_cifar10`). The Python
distribution is never read: it is pickled, and unpickling a file runs code.

Nothing is cached in memory: every call reads the files again and returns fresh arrays
(the mini set loads in a few tens of milliseconds, the full set in about a second).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
import zlib
from importlib import resources
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np

from ._validate import _describe, as_float_array, check_finite, check_flag, check_int, check_labels, check_rng

__all__ = [
    "CLASS_NAMES",
    "FashionMNIST",
    "FashionMNISTNotFoundError",
    "FashionMNISTChecksumError",
    "load_fashion_mnist",
    "CIFAR10_CLASS_NAMES",
    "CIFAR10",
    "CIFAR10NotFoundError",
    "CIFAR10ChecksumError",
    "load_cifar10",
    "to_grayscale",
    "resize_area",
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
            f"{type(self).__name__}(X_train={desc(self.X_train)}, y_train={desc(self.y_train)}, "
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
        directory = _find_or_download(
            data_dir, download, folder="fashion-mnist", missing_in=_missing_in, fetch=_fetch_fashion_mnist,
            not_found=lambda looked, note: FashionMNISTNotFoundError(_not_found_message(looked, note)))
        arrays = _read_dataset_dir(directory)

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


# --- locating a data set on disk, or downloading it ------------------------------------------

def _user_cache_dir(folder: str = "fashion-mnist") -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("lablib")) / folder


def _file_in(directory: Path, name: str) -> Path | None:
    """The file ``name.gz`` or ``name`` in ``directory``, whichever exists (gz first)."""
    for candidate in (directory / (name + ".gz"), directory / name):
        if candidate.is_file():
            return candidate
    return None


def _missing_in(directory: Path) -> list[str]:
    return [name for name in FILES.values() if _file_in(directory, name) is None]


def _candidate_dirs(data_dir, folder: str, system_dir: tuple[str, Path] | None) -> list[tuple[str, Path | None]]:
    """(label, directory) in search order; directory None when the source is not set."""
    candidates = []
    for label, root in (("data_dir argument", data_dir), (f"${ENV_VAR}", os.environ.get(ENV_VAR) or None)):
        if root is None:
            candidates.append((label, None))
        else:
            root = Path(root).expanduser()
            candidates.append((label, root))
            if (root / folder).is_dir():
                candidates.append((label, root / folder))
    candidates.append(("user cache", _user_cache_dir(folder)))
    if system_dir is not None:
        candidates.append(system_dir)
    return candidates


def _find_or_download(data_dir, download: bool, *, folder: str, missing_in, fetch, not_found) -> Path:
    """The first candidate directory where ``missing_in(directory)`` is empty; else ``fetch(cache)`` fills the
    user cache (unless download is False). ``not_found(looked, note)`` makes the error to raise."""
    looked = []
    system_dir = ("Debian package dataset-fashion-mnist", DEBIAN_DIR) if folder == "fashion-mnist" else None
    for label, directory in _candidate_dirs(data_dir, folder, system_dir):
        if directory is None:
            looked.append(f"{label}: not set")
            continue
        if not directory.is_dir():
            looked.append(f"{label}: {directory} (no such folder)")
            continue
        missing = missing_in(directory)
        if not missing:
            return directory
        looked.append(f"{label}: {directory} (missing {', '.join(missing)})")

    if not download:
        raise not_found(looked, "Downloading is off (download=False).")
    cache = _user_cache_dir(folder)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fetch(cache)
    except OSError as err:
        raise not_found(looked, f"Downloading into {cache} failed: {err}") from err
    return cache


def _fetch_fashion_mnist(cache: Path) -> None:
    for name in _missing_in(cache):
        _download_file(name, cache)


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


def _looked_in(title: str, looked: list[str], download_note: str) -> list[str]:
    return [f"The {title} data set was not found. Looked in:", *(f"  - {line}" for line in looked), download_note,
            "To fix it, do one of:"]


def _not_found_message(looked: list[str], download_note: str) -> str:
    names = ", ".join(name + ".gz" for name in FILES.values())
    return "\n".join(
        [
            *_looked_in("full Fashion-MNIST", looked, download_note),
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


# --- CIFAR-10, binary version --------------------------------------------------------------

CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"  # 170,052,171 bytes, MD5 c32a1d4ab5d03f1284b67883e8d87530 (official page)
CIFAR10_FOLDER = "cifar-10-batches-bin"  # the archive's folder
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
# MD5 of each file's content, as published beside the official archive's (e.g. in PyTorch's C++ examples'
# CIFAR fetch script): they hold whether the files are read from the archive or extracted, so any faithful
# copy is accepted.
CIFAR10_MD5 = {
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
    "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
    "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
    "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
}
CIFAR10_RECORD = 1 + 3 * 32 * 32  # one label byte, then R, G and B planes of 32x32 bytes, each row-major
# ITU-R BT.601 luma, the weights of PIL's convert("L"), OpenCV's cvtColor(RGB2GRAY) and tf.image.rgb_to_grayscale.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


class CIFAR10NotFoundError(FileNotFoundError):
    """The CIFAR-10 binary files are neither on disk nor downloadable."""


class CIFAR10ChecksumError(OSError):
    """A CIFAR-10 file is corrupt or is not the official one."""


class CIFAR10(NamedTuple("CIFAR10", FashionMNIST.__annotations__.items())):
    """Images and labels of CIFAR-10 (unpack it or use the attributes): the fields of ``FashionMNIST``."""

    __slots__ = ()
    __repr__ = FashionMNIST.__repr__


def load_cifar10(*, dtype="float64", flatten=True, grayscale=False, size=32, data_dir=None, download=True) -> CIFAR10:
    """Load CIFAR-10 from its official binary distribution as ``CIFAR10(X_train, y_train, X_test, y_test,
    class_names)``: 50,000 training and 10,000 test images (5,000 / 1,000 per class), labels int64 in 0..9
    named by ``CIFAR10_CLASS_NAMES`` (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck).

    dtype: ``"float64"`` gives values / 255 in [0, 1]; ``"uint8"`` bytes 0..255 (rounded to the nearest
        integer after a grayscale conversion or a resize).
    flatten: True gives X of shape (n, size*size*3) (or (n, size*size) in grayscale), the unflattened array
        reshaped row by row; False gives (n, size, size, 3), channels last as Keras' and torchvision's
        CIFAR-10 arrays (or (n, size, size) in grayscale, like Fashion-MNIST).
    grayscale: True converts with the ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B (``to_grayscale``).
    size: side of the square output, 1..32; below 32 the images are shrunk by area averaging
        (``resize_area``). ``grayscale=True, size=28`` gives Fashion-MNIST's format (X of shape (n, 784)),
        the input size of a model pretrained on Fashion-MNIST (transfer learning).

    The files (162 MB as an archive, 184 MB extracted) are not bundled with lablib. They are looked for, in
    order, in ``data_dir``, ``$LABLIB_DATA`` (each also in its ``cifar-10/`` subfolder) and the user cache
    ``platformdirs.user_cache_dir("lablib")/cifar-10``: either the archive ``cifar-10-binary.tar.gz`` (read
    without extracting it) or its six files ``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``
    (in the folder or in its ``cifar-10-batches-bin/``). If none has them the archive is downloaded into the
    user cache unless ``download=False``. The MD5 of every file's content is checked. Each file is records
    of 3,073 bytes: the label byte, then the red, green and blue 32x32 planes, each row-major.
    Memory: float64 RGB needs 1.2 GB for the training images; grayscale 28x28 needs 0.3 GB.
    Raises :class:`CIFAR10NotFoundError` (lists where it looked and how to fix it) or
    :class:`CIFAR10ChecksumError` (names the file and both hashes).
    """
    dtype = _check_dtype(dtype)
    for flag, name in ((flatten, "flatten"), (grayscale, "grayscale"), (download, "download")):
        check_flag(flag, name)
    size = check_int(size, "size", minimum=1)
    if size > 32:
        raise ValueError(f"size must be <= 32 (area averaging shrinks the 32x32 images), got {size}")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a path (str or os.PathLike) or None, got {_describe(data_dir)}")

    directory = _find_or_download(
        data_dir, download, folder="cifar-10", missing_in=_cifar10_missing_in, fetch=_fetch_cifar10,
        not_found=lambda looked, note: CIFAR10NotFoundError(_cifar10_not_found_message(looked, note)))
    contents = _read_cifar10_files(directory)
    train = [_parse_cifar10(contents[name], name) for name in CIFAR10_TRAIN_FILES]
    X_test, y_test = _parse_cifar10(contents[CIFAR10_TEST_FILE], CIFAR10_TEST_FILE)
    X_train = np.concatenate([X for X, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return CIFAR10(_format_cifar10(X_train, dtype, flatten, grayscale, size), y_train,
                   _format_cifar10(X_test, dtype, flatten, grayscale, size), y_test, CIFAR10_CLASS_NAMES)


def _cifar10_files_dir(directory: Path) -> Path | None:
    """Where the six .bin files are: ``directory`` or its cifar-10-batches-bin/ (None if in neither)."""
    for folder in (directory, directory / CIFAR10_FOLDER):
        if all((folder / name).is_file() for name in CIFAR10_MD5):
            return folder
    return None


def _cifar10_missing_in(directory: Path) -> list[str]:
    if (directory / CIFAR10_ARCHIVE).is_file() or _cifar10_files_dir(directory) is not None:
        return []
    return [f"{CIFAR10_ARCHIVE} or the files {', '.join(CIFAR10_MD5)}"]


def _fetch_cifar10(cache: Path) -> None:
    try:
        _download(CIFAR10_URL, cache / CIFAR10_ARCHIVE)
    except OSError as err:
        raise OSError(f"{CIFAR10_URL}: {err}") from err


def _cifar10_not_found_message(looked: list[str], download_note: str) -> str:
    return "\n".join(
        [
            *_looked_in("CIFAR-10", looked, download_note),
            f"  - download {CIFAR10_URL} (162 MB, the binary version; not the Python version) and put it, or"
            f" the six .bin files it holds, in a folder, then set {ENV_VAR}=/that/folder (or pass data_dir=...);",
            "  - or call load_cifar10(download=True) online (it is saved in the user cache for the next time).",
        ]
    )


def _read_cifar10_files(directory: Path) -> dict:
    """The verified content of the six files, from the extracted files if present, else from the archive."""
    folder = _cifar10_files_dir(directory)
    if folder is not None:
        return {name: _check_md5((folder / name).read_bytes(), name, folder / name) for name in CIFAR10_MD5}
    archive = directory / CIFAR10_ARCHIVE
    contents = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:  # read in memory, never extracted: member names cannot write anywhere
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in CIFAR10_MD5 and name not in contents:
                    contents[name] = _check_md5(tar.extractfile(member).read(), name, f"{archive}:{member.name}")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise CIFAR10ChecksumError(f"{archive}: cannot read the archive ({err}); the file is corrupt, delete it") from err
    missing = [name for name in CIFAR10_MD5 if name not in contents]
    if missing:
        raise CIFAR10ChecksumError(f"{archive}: has no {', '.join(missing)}; it is not the official {CIFAR10_ARCHIVE}")
    return contents


def _check_md5(content: bytes, name: str, where) -> bytes:
    actual = hashlib.md5(content, usedforsecurity=False).hexdigest()
    if actual != CIFAR10_MD5[name]:
        raise CIFAR10ChecksumError(
            f"{where}: MD5 of the content is {actual}, expected {CIFAR10_MD5[name]} (official {name}). The file is "
            "corrupt or not the official one: delete it (it is downloaded again if it was in the cache) or replace it."
        )
    return content


def _parse_cifar10(content: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3, 32, 32) uint8, labels (n,) int64) from records of a label byte and 3,072 pixel bytes."""
    if len(content) % CIFAR10_RECORD:
        raise CIFAR10ChecksumError(f"{name}: {len(content)} bytes is not a whole number of {CIFAR10_RECORD}-byte records")
    records = np.frombuffer(content, dtype=np.uint8).reshape(-1, CIFAR10_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise CIFAR10ChecksumError(f"{name}: label {labels.max()} is not in 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def to_grayscale(images, *, channel_axis=-1) -> np.ndarray:
    """ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B of RGB ``images`` (float64, same scale as the input;
    ``channel_axis`` holds R, G, B)."""
    images = as_float_array(images, "images")
    if images.ndim == 0 or images.size == 0:
        raise ValueError(f"images must be a non-empty array with a channel axis of length 3, got shape {images.shape}")
    channel_axis = check_int(channel_axis, "channel_axis")
    if not -images.ndim <= channel_axis < images.ndim or images.shape[channel_axis] != 3:
        raise ValueError(f"images must have 3 channels (R, G, B) along channel_axis={channel_axis}, "
                         f"got shape {images.shape}")
    return np.tensordot(np.moveaxis(images, channel_axis, -1), np.array(LUMA_WEIGHTS), axes=([-1], [0]))


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """A (n_out, n_in) matrix: output pixel i averages the input over [i n_in/n_out, (i + 1) n_in/n_out),
    each input pixel j = [j, j + 1) weighted by its overlap with that interval (rows sum to 1)."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / scale


def resize_area(images, size: int) -> np.ndarray:
    """Shrink square images (..., H, H) to (..., size, size) by area averaging: each output pixel is the mean
    of the input over its footprint, input pixels cut by the footprint's edge weighted by the part inside
    (as OpenCV's INTER_AREA and tf.image.resize(method="area")). Linear, so it commutes with grayscale
    conversion, and keeps the mean intensity. Returns float64."""
    images = as_float_array(images, "images")
    if images.ndim < 2 or images.shape[-1] != images.shape[-2] or images.size == 0:
        raise ValueError(f"images must end with two equal, non-zero axes (..., H, H), got shape {images.shape}")
    size = check_int(size, "size", minimum=1)
    if size > images.shape[-1]:
        raise ValueError(f"size must be <= the input side {images.shape[-1]} (area averaging shrinks), got {size}")
    A = _area_weights(images.shape[-1], size)
    return A @ images @ A.T


def _format_cifar10(X: np.ndarray, dtype: np.dtype, flatten: bool, grayscale: bool, size: int) -> np.ndarray:
    """X (n, 3, 32, 32) uint8 -> the requested format (see load_cifar10)."""
    if grayscale or size != 32:
        X = to_grayscale(X, channel_axis=1)[:, None] if grayscale else X.astype(np.float64)
        if size != 32:
            X = resize_area(X, size)
        if dtype == np.uint8:
            X = np.clip(np.rint(X), 0, 255).astype(np.uint8)
        else:
            X /= 255.0
        X = X[:, 0] if grayscale else X.transpose(0, 2, 3, 1)
    else:
        X = X.transpose(0, 2, 3, 1)
        if dtype == np.float64:
            X = X / 255.0
    X = np.ascontiguousarray(X)
    return X.reshape(len(X), -1) if flatten else X


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
