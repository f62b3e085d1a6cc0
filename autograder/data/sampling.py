"""Builds the embedded quick-profile sample from the full data (deterministically).

Run ``python scripts/make_sample.py`` after changing anything here; the test
``tests/test_data.py::test_embedded_sample_matches_regeneration`` rebuilds the
sample from the full data and compares it with the files in the package.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ._integrity import array_digest, corpus_digest

SEED = 42
MNIST_TRAIN, MNIST_TEST = 3000, 1000
TITANIC_TRAIN, TITANIC_TEST = 300, 120
SPAM_COUNTS = {"easy_ham": 300, "hard_ham": 50, "spam": 150}


def stratified_indices(labels, n: int, seed: int = SEED) -> np.ndarray:
    """``n`` sorted row indices keeping the class proportions of ``labels``."""
    idx = np.arange(len(labels))
    chosen, _ = train_test_split(idx, train_size=n, stratify=labels, random_state=seed)
    return np.sort(chosen)


def build_sample(out_dir: Path, *, data_dir=None) -> dict[str, str]:
    """Write the sample files into ``out_dir`` and return their content digests."""
    from .loaders import load_mnist, load_spam, load_titanic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}

    mnist = load_mnist("full", data_dir=data_dir, allow_download=False)
    train = stratified_indices(mnist.y_train, MNIST_TRAIN)
    test = stratified_indices(mnist.y_test, MNIST_TEST)
    arrays = {"X_train": mnist.X_train[train], "y_train": mnist.y_train[train],
              "X_test": mnist.X_test[test], "y_test": mnist.y_test[test]}
    np.savez_compressed(out_dir / "mnist.npz", **arrays)
    digests.update({f"mnist/{k}": array_digest(v) for k, v in arrays.items()})

    titanic = load_titanic("full", data_dir=data_dir)
    train_rows = titanic.train.iloc[stratified_indices(titanic.train["Survived"], TITANIC_TRAIN)]
    test_pos = stratified_indices(titanic.test_labels, TITANIC_TEST)
    test_rows = titanic.test.iloc[test_pos]
    labels = test_rows[["PassengerId"]].assign(Survived=titanic.test_labels[test_pos])
    for name, frame in (("train.csv", train_rows), ("test.csv", test_rows), ("test_labels.csv", labels)):
        # Same float formatting as the Kaggle files (Age as 22.0), so parsing is unchanged.
        raw = frame.to_csv(index=False, lineterminator="\n").encode()
        (out_dir / f"titanic_{name}").write_bytes(raw)
        digests[f"titanic/{name}"] = hashlib.sha256(raw).hexdigest()

    corpus = load_spam("full", data_dir=data_dir)
    rng = np.random.default_rng(SEED)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2", compresslevel=9) as tar:
        for cat, count in SPAM_COUNTS.items():
            names, msgs = corpus.names[cat], getattr(corpus, cat)
            picked = np.sort(rng.choice(len(names), size=count, replace=False))
            chosen = {names[i]: msgs[i] for i in picked}
            for name, raw in chosen.items():
                info = tarfile.TarInfo(f"{cat}/{name}")
                info.size, info.mtime, info.mode = len(raw), 1046390400, 0o644  # 2003-02-28
                tar.addfile(info, io.BytesIO(raw))
            digests[f"spam/{cat}"] = corpus_digest(chosen)
    (out_dir / "spam.tar.bz2").write_bytes(buffer.getvalue())
    return digests
