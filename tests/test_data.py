"""The data layer: profiles, resolution order, integrity checks, the cache, the embedded sample."""

import shutil

import numpy as np
import pytest

from autograder.data import (ChecksumError, DataNotFoundError, clear_cache, load_mnist, load_spam,
                             load_titanic)
from autograder.data import loaders
from autograder.data import array_digest
from autograder.data.sampling import build_sample


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("CH3_CACHE_DIR", str(path))
    return path


def test_quick_profile_is_embedded_and_stratified():
    mnist = load_mnist("quick")
    assert mnist.X_train.shape == (3000, 784) and mnist.X_test.shape == (1000, 784)
    assert mnist.X_train.dtype == np.uint8 and mnist.y_train.dtype.kind in "iu"
    counts = np.bincount(mnist.y_train, minlength=10)
    assert counts.min() > 250 and counts.max() < 360  # each digit present in about its share
    titanic = load_titanic("quick")
    assert "Survived" not in titanic.test and len(titanic.test_labels) == len(titanic.test)
    corpus = load_spam("quick")
    assert len(corpus.easy_ham) == 300 and len(corpus.spam) == 150 and len(corpus.hard_ham) == 50


def test_unknown_profile_names_the_parameter():
    with pytest.raises(ValueError, match="The 'profile' parameter must be one of"):
        load_mnist("medium")


def test_missing_directory_says_where_it_looked(tmp_path, cache, monkeypatch):
    monkeypatch.delenv("CH3_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError, match="CH3_DATA_DIR not set") as info:
        load_mnist("full", allow_download=False)
    assert "profile='quick'" in str(info.value)
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "nowhere" / "mnist" / "mnist.npz")):
        load_mnist("full", data_dir=tmp_path / "nowhere", allow_download=False)
    with pytest.raises(DataNotFoundError, match="Titanic"):
        load_titanic("full", data_dir=tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError, match="20030228_easy_ham.tar.bz2"):
        load_spam("full", data_dir=tmp_path / "nowhere")


def _fake_openml(monkeypatch, arrays, calls):
    def fetch():
        calls.append("openml")
        return arrays
    monkeypatch.setattr(loaders, "_fetch_openml_mnist", fetch)


def test_resolution_order_cache_then_directory_then_openml(tmp_path, cache, monkeypatch):
    """Without a directory the loader asks OpenML, verifies, caches; later loads use the cache."""
    sample = load_mnist("quick")
    arrays = {k: getattr(sample, k) for k in loaders.MNIST_KEYS}
    calls = []
    _fake_openml(monkeypatch, arrays, calls)
    monkeypatch.setattr(loaders._checksums, "MNIST_FULL", {k: array_digest(v) for k, v in arrays.items()})
    monkeypatch.delenv("CH3_DATA_DIR", raising=False)

    first = load_mnist("full")
    assert calls == ["openml"] and first.source == "OpenML mnist_784"
    second = load_mnist("full")
    assert calls == ["openml"], "the cache should have been used"
    assert isinstance(second.X_train, np.memmap) and second.source.startswith(str(cache))
    np.testing.assert_array_equal(second.X_test, sample.X_test)

    clear_cache()
    assert not cache.exists()
    (tmp_path / "kit" / "mnist").mkdir(parents=True)
    np.savez_compressed(tmp_path / "kit" / "mnist" / "mnist.npz", **arrays)
    third = load_mnist("full", data_dir=tmp_path / "kit")
    assert calls == ["openml"], "an explicit directory comes before OpenML"
    assert third.source == str(tmp_path / "kit" / "mnist" / "mnist.npz")


def test_openml_content_is_verified(cache, monkeypatch):
    sample = load_mnist("quick")
    _fake_openml(monkeypatch, {k: getattr(sample, k) for k in loaders.MNIST_KEYS}, [])
    monkeypatch.delenv("CH3_DATA_DIR", raising=False)
    with pytest.raises(ChecksumError, match="X_train in OpenML mnist_784 failed its checksum"):
        load_mnist("full")


def test_unwritable_cache_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CH3_CACHE_DIR", str(blocker / "cache"))
    sample = load_mnist("quick")
    arrays = {k: getattr(sample, k) for k in loaders.MNIST_KEYS}
    monkeypatch.setattr(loaders._checksums, "MNIST_FULL", {k: array_digest(v) for k, v in arrays.items()})
    _fake_openml(monkeypatch, arrays, [])
    assert load_mnist("full", data_dir=tmp_path / "none").X_train.shape == (3000, 784)


def _flip_byte(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_corrupt_sample_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "sample"
    shutil.copytree(loaders.SAMPLE_DIR, folder)
    monkeypatch.setattr(loaders, "SAMPLE_DIR", folder)
    _flip_byte(folder / "titanic_train.csv", 200)
    with pytest.raises(ChecksumError, match="train.csv in .*titanic_train.csv failed its checksum"):
        load_titanic("quick")
    _flip_byte(folder / "mnist.npz", 300_000)
    with pytest.raises(ChecksumError, match="mnist.npz"):
        load_mnist("quick")


@pytest.mark.full_data
def test_full_data_is_exact(data_dir, cache):
    mnist = load_mnist("full", data_dir=data_dir, allow_download=False)
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert int(mnist.X_train[0].sum()) == 27525
    titanic = load_titanic("full", data_dir=data_dir)
    assert titanic.train.shape == (891, 12) and titanic.test.shape == (418, 11)
    assert np.bincount(titanic.test_labels).tolist() == [260, 158]
    women = (titanic.test["Sex"] == "female").to_numpy().astype(int)
    assert (women == titanic.test_labels).sum() == 320  # Kaggle's gender_submission: 0.76555
    corpus = load_spam("full", data_dir=data_dir)
    assert (len(corpus.easy_ham), len(corpus.hard_ham), len(corpus.spam)) == (2500, 250, 500)
    cached = load_spam("full", data_dir=data_dir)
    assert cached.source.startswith(str(cache)) and cached.spam == corpus.spam


@pytest.mark.full_data
@pytest.mark.parametrize("relative, offset", [
    ("mnist/mnist.npz", 5_000_000), ("titanic/test_labels.csv", 100),
    ("spam/20030228_spam.tar.bz2", 500_000),
])
def test_flipped_byte_in_full_data_is_a_checksum_error(data_dir, tmp_path, cache, relative, offset):
    kit = tmp_path / "kit"
    shutil.copytree(data_dir, kit, ignore=shutil.ignore_patterns("README*"))
    for path in kit.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    _flip_byte(kit / relative, offset)
    load = {"mnist": lambda: load_mnist("full", data_dir=kit, allow_download=False),
            "titanic": lambda: load_titanic("full", data_dir=kit),
            "spam": lambda: load_spam("full", data_dir=kit)}[relative.split("/")[0]]
    with pytest.raises(ChecksumError, match=relative.split("/")[1].replace(".", r"\.")):
        load()


@pytest.mark.full_data
def test_embedded_sample_matches_regeneration(data_dir, tmp_path, cache):
    digests = build_sample(tmp_path / "sample", data_dir=data_dir)
    assert digests == loaders._checksums.SAMPLE
