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
    monkeypatch.setattr(data, "_user_cache_dir", lambda: tmp_path / "cache" / "fashion-mnist")
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
