"""lablib.data: the shipped mini subset, the full data set on disk (never the network), minibatches
and the stratified split.

Tests that need the official files use copies of ../shared/data/fashion-mnist (beside the repository)
and are skipped when it is absent. The user cache, Debian's folder, $LABLIB_DATA and the downloader
are redirected for every test, so nothing outside tmp_path is read or written and no test can
reach the network.
"""
import gzip
import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib import data
from lablib._data import build_mini
from lablib.data import (
    CLASS_NAMES,
    FashionMNISTChecksumError,
    FashionMNISTNotFoundError,
    load_fashion_mnist,
    minibatches,
    train_val_split,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion-mnist"
NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
needs_shared = pytest.mark.skipif(
    not all((SHARED / (n + ".gz")).is_file() for n in NAMES),
    reason=f"the official Fashion-MNIST files are not in {SHARED}",
)
MINI = Path(data.__file__).parent / "_data" / data.MINI_FILE


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real cache, Debian folder, $LABLIB_DATA or network in any test."""
    monkeypatch.delenv("LABLIB_DATA", raising=False)
    monkeypatch.setattr(data, "_user_cache_dir", lambda folder="fashion-mnist": tmp_path / "cache" / folder)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian" / "fashion-mnist")

    def no_network(url, dest):
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(data, "_download", no_network)


@pytest.fixture(scope="module")
def official_copy(tmp_path_factory):
    """A temporary folder with byte-identical copies of the four official .gz files."""
    if not SHARED.is_dir():
        pytest.skip(f"the official Fashion-MNIST files are not in {SHARED}")
    folder = tmp_path_factory.mktemp("official")
    for name in NAMES:
        shutil.copy(SHARED / (name + ".gz"), folder / (name + ".gz"))
    return folder


@pytest.fixture(scope="module")
def full_uint8(official_copy):
    # Read with the low-level reader so this fixture does not depend on the search logic under test.
    return data._read_dataset_dir(official_copy)


def test_class_names_are_the_official_ten_in_label_order():
    # README of github.com/zalandoresearch/fashion-mnist, section "Labels"
    assert CLASS_NAMES == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


# --- the shipped mini subset ------------------------------------------------------------------

def test_mini_default_is_float64_flat_in_unit_interval_and_stratified():
    ds = load_fashion_mnist()
    assert ds.X_train.shape == (10_000, 784) and ds.X_test.shape == (2_000, 784)
    assert ds.X_train.dtype == np.float64 and ds.X_test.dtype == np.float64
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0
    assert ds.X_train.max() == 1.0  # some pixel is 255
    assert np.array_equal(np.bincount(ds.y_train, minlength=10), np.full(10, 1000))
    assert np.array_equal(np.bincount(ds.y_test, minlength=10), np.full(10, 200))
    assert ds.class_names == CLASS_NAMES
    X_train, y_train, X_test, y_test, names = ds  # unpacks like a tuple
    assert X_train is ds.X_train and names is CLASS_NAMES
    assert "10000, 784" in repr(ds)


def test_mini_uint8_and_unflattened_views_agree_with_float64():
    raw = load_fashion_mnist("mini", dtype="uint8", flatten=False)
    flat = load_fashion_mnist("mini", dtype="float64", flatten=True)
    assert raw.X_train.shape == (10_000, 28, 28) and raw.X_train.dtype == np.uint8
    assert raw.X_test.shape == (2_000, 28, 28)
    assert raw.X_train.flags.writeable and raw.y_train.flags.writeable
    np.testing.assert_array_equal(flat.X_train, raw.X_train.reshape(10_000, 784) / 255.0)
    np.testing.assert_array_equal(flat.X_test, raw.X_test.reshape(2_000, 784) / 255.0)
    np.testing.assert_array_equal(flat.y_train, raw.y_train)


def test_mini_returns_fresh_arrays_each_call():
    a, b = load_fashion_mnist(), load_fashion_mnist()
    a.X_train[0, 0] = 123.0
    assert b.X_train[0, 0] != 123.0
    assert load_fashion_mnist().X_train[0, 0] != 123.0


@needs_shared
def test_mini_rows_are_the_official_rows_it_records(full_uint8):
    X_train, y_train, X_test, y_test = full_uint8
    mini = load_fashion_mnist("mini", dtype="uint8", flatten=False)
    with np.load(MINI) as npz:
        train_index, test_index = npz["train_index"], npz["test_index"]
    assert np.all(np.diff(train_index) > 0) and np.all(np.diff(test_index) > 0)
    np.testing.assert_array_equal(mini.X_train, X_train[train_index])
    np.testing.assert_array_equal(mini.y_train, y_train[train_index])
    np.testing.assert_array_equal(mini.X_test, X_test[test_index])
    np.testing.assert_array_equal(mini.y_test, y_test[test_index])


@needs_shared
def test_mini_rebuilds_identically_from_the_official_files(official_copy):
    rebuilt = build_mini.build_arrays(official_copy)
    with np.load(MINI) as shipped:
        assert sorted(shipped.files) == sorted(rebuilt)
        for name, array in rebuilt.items():
            assert shipped[name].dtype == array.dtype, name
            np.testing.assert_array_equal(shipped[name], array, err_msg=name)


# --- the full set: where it is looked for, and checksums ---------------------------------------

@needs_shared
def test_full_from_data_dir(official_copy, full_uint8):
    ds = load_fashion_mnist("full", data_dir=official_copy, download=False)
    assert ds.X_train.shape == (60_000, 784) and ds.X_test.shape == (10_000, 784)
    assert ds.X_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.X_test, full_uint8[2].reshape(10_000, 784) / 255.0)
    # The README: 6,000 training and 1,000 test images per class.
    assert np.array_equal(np.bincount(ds.y_train), np.full(10, 6000))
    assert np.array_equal(np.bincount(ds.y_test), np.full(10, 1000))


@needs_shared
def test_full_from_lablib_data_folder_or_its_fashion_mnist_subfolder(official_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("LABLIB_DATA", str(official_copy))
    ds = load_fashion_mnist("full", dtype="uint8", flatten=False, download=False)
    assert ds.X_train.shape == (60_000, 28, 28) and ds.X_train.dtype == np.uint8

    parent = tmp_path / "datasets"
    (parent / "fashion-mnist").mkdir(parents=True)
    for name in NAMES:
        (parent / "fashion-mnist" / (name + ".gz")).symlink_to(official_copy / (name + ".gz"))
    monkeypatch.setenv("LABLIB_DATA", str(parent))
    assert load_fashion_mnist("full", dtype="uint8", download=False).y_test.shape == (10_000,)


@pytest.fixture(scope="module")
def regzipped(official_copy, tmp_path_factory):
    """Copies re-gzipped (as Debian does): different .gz bytes, same decompressed content."""
    folder = tmp_path_factory.mktemp("regzipped")
    for name in NAMES:
        content = gzip.decompress((official_copy / (name + ".gz")).read_bytes())
        (folder / (name + ".gz")).write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
    return folder


@needs_shared
def test_regzipped_copies_load(official_copy, regzipped, full_uint8):
    for name in NAMES:
        assert (regzipped / (name + ".gz")).read_bytes() != (official_copy / (name + ".gz")).read_bytes()
    ds = load_fashion_mnist("full", dtype="uint8", flatten=False, data_dir=regzipped, download=False)
    for got, want in zip(ds[:4], full_uint8):
        np.testing.assert_array_equal(got, want)
        assert got.flags.writeable


@needs_shared
def test_debian_folder_is_used(regzipped, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIR", regzipped)
    assert load_fashion_mnist("full", dtype="uint8", download=False).y_train.shape == (60_000,)


@needs_shared
def test_uncompressed_files_are_accepted(official_copy, full_uint8, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in NAMES:
        if "labels" in name:
            (folder / name).write_bytes(gzip.decompress((official_copy / (name + ".gz")).read_bytes()))
        else:
            shutil.copy(official_copy / (name + ".gz"), folder)
    ds = load_fashion_mnist("full", dtype="uint8", data_dir=folder, download=False)
    np.testing.assert_array_equal(ds.y_train, full_uint8[1])


def _corrupt_copy(official_copy: Path, folder: Path, victim: str) -> Path:
    """Copies of the official files, with one label of ``victim`` changed (then re-gzipped)."""
    folder.mkdir()
    for name in NAMES:
        shutil.copy(official_copy / (name + ".gz"), folder)
    content = bytearray(gzip.decompress((official_copy / (victim + ".gz")).read_bytes()))
    content[-1] = (content[-1] + 1) % 10  # still a valid IDX file with labels in 0..9
    (folder / (victim + ".gz")).write_bytes(gzip.compress(bytes(content)))
    return folder / (victim + ".gz")


@needs_shared
def test_corrupt_file_is_named_with_both_hashes(official_copy, tmp_path):
    bad = _corrupt_copy(official_copy, tmp_path / "corrupt", "t10k-labels-idx1-ubyte")
    actual = hashlib.sha256(gzip.decompress(bad.read_bytes())).hexdigest()
    with pytest.raises(FashionMNISTChecksumError) as err:
        load_fashion_mnist("full", data_dir=tmp_path / "corrupt", download=False)
    message = str(err.value)
    assert str(bad) in message
    assert actual in message and data.SHA256["t10k-labels-idx1-ubyte"] in message
    assert isinstance(err.value, OSError)


@needs_shared
def test_truncated_gzip_is_named(official_copy, tmp_path):
    folder = tmp_path / "truncated"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(official_copy / (name + ".gz"), folder)
    victim = folder / "train-labels-idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(FashionMNISTChecksumError, match="train-labels-idx1-ubyte.gz"):
        load_fashion_mnist("full", data_dir=folder, download=False)


@needs_shared
def test_data_dir_comes_before_lablib_data(official_copy, tmp_path, monkeypatch):
    _corrupt_copy(official_copy, tmp_path / "corrupt", "train-labels-idx1-ubyte")
    monkeypatch.setenv("LABLIB_DATA", str(tmp_path / "corrupt"))
    load_fashion_mnist("full", dtype="uint8", data_dir=official_copy, download=False)  # no error
    with pytest.raises(FashionMNISTChecksumError):  # without data_dir, $LABLIB_DATA is used
        load_fashion_mnist("full", dtype="uint8", download=False)


def test_empty_folder_without_download_gives_actionable_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FashionMNISTNotFoundError) as err:
        load_fashion_mnist("full", data_dir=empty, download=False)
    assert isinstance(err.value, OSError)
    message = str(err.value)
    for needed in (str(empty), "LABLIB_DATA", "dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist",
                   "download=False", "train-images-idx3-ubyte.gz", "load_fashion_mnist('mini')", *data.URLS):
        assert needed in message, needed
    assert str(tmp_path / "cache" / "fashion-mnist") in message  # the user cache it looked in


def test_offline_download_gives_actionable_error(tmp_path, monkeypatch):
    calls = []

    def offline(url, dest):
        calls.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(FashionMNISTNotFoundError, match="no network") as err:
        load_fashion_mnist("full", download=True)
    assert "LABLIB_DATA" in str(err.value) and "dataset-fashion-mnist" in str(err.value)
    assert calls == [base + "train-images-idx3-ubyte.gz" for base in data.URLS]  # every mirror tried


@needs_shared
def test_download_fills_the_cache_once(official_copy, tmp_path, monkeypatch):
    fetched = []

    def fake_download(url, dest):  # serves the official bytes for the official URL
        assert url.startswith(data.URLS[0])
        fetched.append(url)
        shutil.copy(official_copy / url.rsplit("/", 1)[1], dest)

    monkeypatch.setattr(data, "_download", fake_download)
    ds = load_fashion_mnist("full", dtype="uint8")
    assert ds.X_train.shape == (60_000, 784)
    assert sorted(fetched) == sorted(data.URLS[0] + n + ".gz" for n in NAMES)
    assert sorted(p.name for p in (tmp_path / "cache" / "fashion-mnist").iterdir()) == sorted(n + ".gz" for n in NAMES)
    load_fashion_mnist("full", dtype="uint8")  # now found in the cache
    assert len(fetched) == 4


# --- the IDX parser on hand-made files ---------------------------------------------------------

def _idx(dims, payload: bytes, type_code=0x08) -> bytes:
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def test_parse_idx_reads_dimensions_and_row_major_data():
    arr = data._parse_idx(_idx((2, 3), bytes(range(6))), "x")
    np.testing.assert_array_equal(arr, [[0, 1, 2], [3, 4, 5]])
    assert arr.dtype == np.uint8
    labels = data._parse_idx(_idx((300,), bytes([7]) * 300), "y")  # 300 needs two bytes: big-endian
    assert labels.shape == (300,)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic"),
        (_idx((2,), b"\x00" * 16, type_code=0x0D), "type code"),
        (_idx((2, 3), bytes(5)), "data bytes"),
        (b"\x00", "magic"),
    ],
)
def test_parse_idx_rejects_malformed_files(content, match):
    with pytest.raises(FashionMNISTChecksumError, match=match):
        data._parse_idx(content, "bad-file")


# --- argument checks ---------------------------------------------------------------------------

@pytest.mark.parametrize("subset", ["tiny", "Mini", None, 1])
def test_bad_subset(subset):
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist(subset)


@pytest.mark.parametrize("dtype", ["float32", "int64", None, "pixels", 3.0])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match="dtype"):
        load_fashion_mnist(dtype=dtype)


def test_dtype_accepts_numpy_spellings():
    assert load_fashion_mnist(dtype=np.uint8).X_test.dtype == np.uint8


@pytest.mark.parametrize("kwargs, match", [({"flatten": 1}, "flatten"), ({"download": "no"}, "download"),
                                           ({"data_dir": 3}, "data_dir")])
def test_bad_flags(kwargs, match):
    with pytest.raises(TypeError, match=match):
        load_fashion_mnist("full", **kwargs)


# --- minibatches -------------------------------------------------------------------------------

def _indexed(n, d=3):
    """X whose row r is r*d .. r*d+d-1, and y = r, so each batch row can be traced back."""
    return np.arange(n * d, dtype=np.float64).reshape(n, d), np.arange(n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), drop_last=st.booleans(), seed=st.integers(0, 2**16))
def test_minibatches_cover_each_row_once_in_permutation_order(n, batch_size, drop_last, seed):
    X, y = _indexed(n)
    batches = list(minibatches(X, y, batch_size, rng=np.random.default_rng(seed), drop_last=drop_last))
    sizes = [len(yb) for _, yb in batches]
    full, rest = divmod(n, batch_size)
    assert sizes == [batch_size] * full + ([rest] if rest and not drop_last else [])
    order = np.concatenate([yb for _, yb in batches]) if batches else np.array([], dtype=int)
    expected = np.random.default_rng(seed).permutation(n)[: sum(sizes)]
    np.testing.assert_array_equal(order, expected)
    for Xb, yb in batches:
        np.testing.assert_array_equal(Xb, X[yb])


def test_minibatches_without_shuffle_go_in_order():
    X, y = _indexed(10)
    batches = list(minibatches(X, y, 4, shuffle=False))
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [yb.tolist() for _, yb in minibatches(X, y, 4, shuffle=False, drop_last=True)] == [[0, 1, 2, 3],
                                                                                               [4, 5, 6, 7]]


def test_minibatches_keep_image_shape_and_label_dtype():
    X = np.zeros((7, 28, 28), dtype=np.uint8)
    y = np.arange(7)
    Xb, yb = next(minibatches(X, y, 5, rng=np.random.default_rng(0)))
    assert Xb.shape == (5, 28, 28) and Xb.dtype == np.uint8 and yb.dtype == y.dtype


def test_minibatches_successive_epochs_differ():
    X, y = _indexed(50)
    rng = np.random.default_rng(1)
    first = np.concatenate([yb for _, yb in minibatches(X, y, 8, rng=rng)])
    second = np.concatenate([yb for _, yb in minibatches(X, y, 8, rng=rng)])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))


def test_minibatches_checks_arguments_when_called():
    X, y = _indexed(5)
    with pytest.raises(TypeError, match="rng"):
        minibatches(X, y, 2)  # shuffle=True needs an rng; raised before any iteration
    with pytest.raises(TypeError, match="rng"):
        minibatches(X, y, 2, rng=0)
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(X, y, 0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="batch_size"):
        minibatches(X, y, 2.0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="batch_size"):
        minibatches(X, y, True, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="X"):
        minibatches(np.arange(5.0), y, 2, shuffle=False)
    with pytest.raises(ValueError, match="y"):
        minibatches(X, y[:4], 2, shuffle=False)


# --- train_val_split ---------------------------------------------------------------------------

def _check_partition(X, y, Xt, yt, Xv, yv):
    ids_t, ids_v = Xt[:, 0].astype(int) // X.shape[1], Xv[:, 0].astype(int) // X.shape[1]
    assert np.intersect1d(ids_t, ids_v).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([ids_t, ids_v])), np.arange(len(X)))
    assert np.all(np.diff(ids_t) > 0) and np.all(np.diff(ids_v) > 0)  # original order kept
    np.testing.assert_array_equal(yt, y[ids_t])
    np.testing.assert_array_equal(yv, y[ids_v])


def test_split_stratified_keeps_exact_class_proportions_of_mini():
    ds = load_fashion_mnist(dtype="uint8")
    Xt, yt, Xv, yv = train_val_split(ds.X_train, ds.y_train, 0.1, rng=np.random.default_rng(0))
    assert Xv.shape == (1000, 784) and Xt.shape == (9000, 784)
    assert np.array_equal(np.bincount(yv), np.full(10, 100))
    assert np.array_equal(np.bincount(yt), np.full(10, 900))


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    frac=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**16),
)
def test_split_stratified_counts_are_within_one_of_the_exact_share(counts, frac, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    y = np.random.default_rng(seed).permutation(y)
    n = len(y)
    n_val = int(np.floor(frac * n + 0.5))
    if not 1 <= n_val <= n - 1:
        return
    X, _ = _indexed(n)
    Xt, yt, Xv, yv = train_val_split(X, y, frac, rng=np.random.default_rng(seed))
    _check_partition(X, y, Xt, yt, Xv, yv)
    assert len(yv) == n_val
    got = np.bincount(yv, minlength=len(counts))
    exact = n_val * np.array(counts) / n
    assert np.all(np.abs(got - exact) < 1)


def test_split_unstratified_with_count_and_any_y():
    X, ids = _indexed(20)
    y = np.eye(20)[ids]  # one-hot targets are fine without stratify
    Xt, yt, Xv, yv = train_val_split(X, y, 7, rng=np.random.default_rng(3), stratify=False)
    assert len(Xv) == 7 and len(Xt) == 13
    _check_partition(X, y, Xt, yt, Xv, yv)


def test_split_fraction_rounds_to_nearest():
    X, y = _indexed(10)
    # 0.7 * 10 is 7.000000000000001 in floating point: still 7 validation rows.
    assert len(train_val_split(X, y % 2, 0.7, rng=np.random.default_rng(0))[3]) == 7
    assert len(train_val_split(X, y % 2, 0.25, rng=np.random.default_rng(0), stratify=False)[3]) == 3  # 2.5 -> 3


def test_split_is_reproducible_and_depends_on_rng():
    X, y = _indexed(100)
    labels = y % 4
    a = train_val_split(X, labels, 0.2, rng=np.random.default_rng(5))
    b = train_val_split(X, labels, 0.2, rng=np.random.default_rng(5))
    c = train_val_split(X, labels, 0.2, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a[2], b[2])
    assert not np.array_equal(a[2], c[2])


@pytest.mark.parametrize("val_size", [0.0, 1.0, 1.5, -0.1, 0, 10, 11, 0.01])
def test_split_rejects_bad_val_size(val_size):
    X, y = _indexed(10)
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(X, y % 2, val_size, rng=np.random.default_rng(0))


def test_split_rejects_bad_types():
    X, y = _indexed(10)
    with pytest.raises(TypeError, match="val_size"):
        train_val_split(X, y, "0.1", rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="val_size"):
        train_val_split(X, y, True, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        train_val_split(X, y, 0.2, rng=None)
    with pytest.raises(TypeError, match="y"):
        train_val_split(X, y.astype(float), 0.2, rng=np.random.default_rng(0))  # stratify needs labels
    with pytest.raises(ValueError, match="y"):
        train_val_split(X, y[:9], 0.2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="X"):
        train_val_split(np.arange(10), y, 0.2, rng=np.random.default_rng(0))


# --- CIFAR-10, binary version: small files written here in the official format -----------------

CIFAR_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def _cifar_records(rng, n):
    """n records of the binary version: a label byte, then the R, G, B 32x32 planes, each row-major."""
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return b"".join(bytes([label]) + row.tobytes() for label, row in zip(labels, pixels))


@pytest.fixture
def cifar_files(monkeypatch):
    """Content of the six files (3 records per training file, 4 test records), and their MD5s made official."""
    rng = np.random.default_rng(10)
    contents = {name: _cifar_records(rng, 4 if name == "test_batch.bin" else 3) for name in CIFAR_FILES}
    monkeypatch.setattr(data, "CIFAR10_MD5", {name: hashlib.md5(c).hexdigest() for name, c in contents.items()})
    return contents


def _write_cifar_folder(folder: Path, contents) -> Path:
    (folder / "cifar-10-batches-bin").mkdir(parents=True)
    for name, content in contents.items():
        (folder / "cifar-10-batches-bin" / name).write_bytes(content)
    (folder / "cifar-10-batches-bin" / "batches.meta.txt").write_text("\n".join(data.CIFAR10_CLASS_NAMES) + "\n\n")
    return folder


def _write_cifar_archive(path: Path, contents) -> Path:
    import io
    import tarfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, content in contents.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def _decode_by_hand(content: bytes):
    """Record r: label content[r*3073]; pixel (row i, column j, channel c) at 1 + c*1024 + i*32 + j."""
    n = len(content) // 3073
    X = np.empty((n, 32, 32, 3), dtype=np.uint8)
    y = np.empty(n, dtype=np.int64)
    for r in range(n):
        rec = content[r * 3073:(r + 1) * 3073]
        y[r] = rec[0]
        for c in range(3):
            X[r, :, :, c] = np.frombuffer(rec[1 + c * 1024:1 + (c + 1) * 1024], dtype=np.uint8).reshape(32, 32)
    return X, y


def test_cifar10_class_names_are_the_official_ten_in_label_order():
    # batches.meta.txt of the binary version, one name per label 0..9
    assert data.CIFAR10_CLASS_NAMES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                        "ship", "truck")
    assert data.CIFAR10_RECORD == 3073 and 10_000 * data.CIFAR10_RECORD == 30_730_000  # each official file


def test_cifar10_from_extracted_files_decodes_the_official_layout(cifar_files, tmp_path):
    folder = _write_cifar_folder(tmp_path / "cifar", cifar_files)
    raw = data.load_cifar10(dtype="uint8", flatten=False, data_dir=folder, download=False)
    X_train = np.concatenate([_decode_by_hand(cifar_files[n])[0] for n in CIFAR_FILES[:5]])
    y_train = np.concatenate([_decode_by_hand(cifar_files[n])[1] for n in CIFAR_FILES[:5]])
    X_test, y_test = _decode_by_hand(cifar_files["test_batch.bin"])
    assert raw.X_train.shape == (15, 32, 32, 3) and raw.X_test.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(raw.X_train, X_train)
    np.testing.assert_array_equal(raw.y_train, y_train)
    np.testing.assert_array_equal(raw.X_test, X_test)
    np.testing.assert_array_equal(raw.y_test, y_test)
    assert raw.y_train.dtype == np.int64 and raw.class_names == data.CIFAR10_CLASS_NAMES
    flat = data.load_cifar10(data_dir=folder, download=False)  # float64 in [0, 1], flattened row by row
    assert flat.X_train.shape == (15, 3072) and flat.X_train.dtype == np.float64
    np.testing.assert_array_equal(flat.X_train, X_train.reshape(15, -1) / 255.0)
    assert "CIFAR10(X_train=float64[15, 3072]" in repr(flat)


def test_cifar10_from_the_archive_without_extracting(cifar_files, tmp_path, monkeypatch):
    archive = _write_cifar_archive(tmp_path / "cache" / "cifar-10" / "cifar-10-binary.tar.gz", cifar_files)
    from_archive = data.load_cifar10(dtype="uint8", download=False)  # found in the user cache
    assert sorted(p.name for p in archive.parent.iterdir()) == ["cifar-10-binary.tar.gz"]  # nothing extracted
    folder = _write_cifar_folder(tmp_path / "elsewhere" / "cifar-10", cifar_files)
    monkeypatch.setenv("LABLIB_DATA", str(folder.parent))  # $LABLIB_DATA/cifar-10/cifar-10-batches-bin
    from_files = data.load_cifar10(dtype="uint8", download=False)
    for a, b in zip(from_archive[:4], from_files[:4]):
        np.testing.assert_array_equal(a, b)


def test_cifar10_checksums_name_the_file_and_both_hashes(cifar_files, tmp_path):
    bad = dict(cifar_files)
    bad["data_batch_3.bin"] = bytes([9]) + cifar_files["data_batch_3.bin"][1:]  # one label changed
    folder = _write_cifar_folder(tmp_path / "corrupt", bad)
    with pytest.raises(data.CIFAR10ChecksumError) as err:
        data.load_cifar10(data_dir=folder, download=False)
    message = str(err.value)
    assert "data_batch_3.bin" in message and data.CIFAR10_MD5["data_batch_3.bin"] in message
    assert hashlib.md5(bad["data_batch_3.bin"]).hexdigest() in message
    archive = _write_cifar_archive(tmp_path / "truncated" / "cifar-10-binary.tar.gz", cifar_files)
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(data.CIFAR10ChecksumError, match="cifar-10-binary.tar.gz"):
        data.load_cifar10(data_dir=archive.parent, download=False)


def test_cifar10_offline_error_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    def offline(url, dest):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(data, "_download", offline)
    with pytest.raises(data.CIFAR10NotFoundError) as err:
        data.load_cifar10(data_dir=tmp_path)
    message = str(err.value)
    for needed in (str(tmp_path), "LABLIB_DATA", str(tmp_path / "cache" / "cifar-10"), data.CIFAR10_URL,
                   "no network", "binary version", "data_batch_1.bin"):
        assert needed in message, needed
    with pytest.raises(data.CIFAR10NotFoundError, match="download=False"):
        data.load_cifar10(download=False)


def test_cifar10_download_fills_the_cache_once(cifar_files, tmp_path, monkeypatch):
    source = _write_cifar_archive(tmp_path / "server" / "cifar-10-binary.tar.gz", cifar_files)
    fetched = []

    def fake_download(url, dest):
        fetched.append(url)
        shutil.copy(source, dest)

    monkeypatch.setattr(data, "_download", fake_download)
    assert data.load_cifar10().X_test.shape == (4, 3072)
    data.load_cifar10()
    assert fetched == [data.CIFAR10_URL]


def _area_by_integration(image, size):
    """The mean of the piecewise-constant image over each output cell, in exact rational arithmetic."""
    import math
    from fractions import Fraction

    n = image.shape[0]
    step = Fraction(n, size)

    def overlaps(k):  # (input index, overlap length) of output cell k along one axis
        lo, hi = step * k, step * (k + 1)
        return [(p, min(hi, p + 1) - max(lo, p)) for p in range(math.floor(lo), math.ceil(hi))]

    out = np.empty((size, size))
    for i in range(size):
        for j in range(size):
            total = sum(h * w * Fraction(float(image[r, c]))  # exact: a float is a fraction
                        for r, h in overlaps(i) for c, w in overlaps(j))
            out[i, j] = float(total / (step * step))
    return out


def test_cifar10_grayscale_28x28_for_a_fashion_mnist_model(cifar_files, tmp_path):
    folder = _write_cifar_folder(tmp_path / "cifar", cifar_files)
    gray = data.load_cifar10(grayscale=True, size=28, data_dir=folder, download=False)
    assert gray.X_train.shape == (15, 784) and gray.X_test.shape == (4, 784)  # Fashion-MNIST's format
    rgb, _ = _decode_by_hand(cifar_files["test_batch.bin"])
    luma = 0.299 * rgb[..., 0].astype(float) + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    img = gray.X_test.reshape(4, 28, 28)
    # the direct computation: luma per pixel, then the exact area average over each 32/28-pixel cell
    expected = _area_by_integration(luma[0], 28)[None] / 255
    np.testing.assert_allclose(img[:1], expected, rtol=1e-12)
    assert abs(img.mean() - luma.mean() / 255) < 1e-12  # area averaging keeps the mean intensity
    small = data.load_cifar10(grayscale=True, size=28, dtype="uint8", flatten=False, data_dir=folder,
                              download=False)
    assert small.X_test.shape == (4, 28, 28) and small.X_test.dtype == np.uint8
    np.testing.assert_array_equal(small.X_test, np.rint(img * 255).astype(np.uint8))
    full = data.load_cifar10(grayscale=True, flatten=False, data_dir=folder, download=False)
    np.testing.assert_allclose(full.X_test, luma / 255, rtol=1e-15)
    colour = data.load_cifar10(size=16, flatten=False, data_dir=folder, download=False)
    assert colour.X_test.shape == (4, 16, 16, 3)  # 2x2 blocks: plain means
    np.testing.assert_allclose(colour.X_test, rgb.reshape(4, 16, 2, 16, 2, 3).mean(axis=(2, 4)) / 255, rtol=1e-14)


def test_resize_and_grayscale_helpers_by_hand():
    np.testing.assert_allclose(data.to_grayscale([[255, 0, 0], [0, 255, 0], [0, 0, 255]]),
                               [0.299 * 255, 0.587 * 255, 0.114 * 255], rtol=1e-15)
    image = np.arange(9.0).reshape(3, 3)
    # 3 -> 2: each output cell covers 1.5 x 1.5 input pixels
    expected = _area_by_integration(image, 2)
    np.testing.assert_allclose(data.resize_area(image, 2), expected, rtol=1e-15)
    assert data.resize_area(image, 1)[0, 0] == pytest.approx(4.0, rel=1e-15)
    np.testing.assert_array_equal(data.resize_area(image, 3), image)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": 33}, ValueError, "size"), ({"size": 0}, ValueError, "size"), ({"size": 28.0}, TypeError, "size"),
    ({"grayscale": "yes"}, TypeError, "grayscale"), ({"dtype": "float32"}, ValueError, "dtype"),
    ({"data_dir": 3}, TypeError, "data_dir"), ({"flatten": 1}, TypeError, "flatten"),
])
def test_cifar10_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_cifar10(download=False, **kwargs)
