"""Speed and memory of the choices the exercises and the grader make, against baselines in the same run.

    python benchmarks/bench_exercises.py            # full data if $CH3_DATA_DIR is set, else the sample
    python benchmarks/bench_exercises.py --quick    # the embedded sample only

Prints one line per measurement: the figure, the baseline's, and the ratio.
Timings are wall-clock on this machine; compare ratios, not absolute seconds.
"""

import argparse
import os
import time
import tracemalloc

import numpy as np
from scipy import ndimage
from sklearn.neighbors import KNeighborsClassifier

from autograder.data import load_mnist
from solutions import ex2_augmentation


def clock(func, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(name, ours, baseline, unit="s"):
    print(f"{name:<48} ours {ours:9.3f} {unit}   baseline {baseline:9.3f} {unit}   ratio {baseline / ours:6.1f}x")


def bench_shift(X, y):
    def per_image():
        shifted = [X]
        for dx, dy in ex2_augmentation.SHIFTS:
            shifted.append(np.stack([ndimage.shift(im.reshape(28, 28), [dy, dx], order=0, cval=0).ravel() for im in X]))
        return np.concatenate(shifted)

    ours, (X_aug, _) = clock(lambda: ex2_augmentation.augment(X, y), repeat=3)
    baseline, X_ref = clock(per_image)
    assert np.array_equal(X_aug, X_ref)
    report(f"augment {len(X):,} images (vectorised vs ndimage)", ours, baseline)


def bench_knn(X_train, y_train, X_test):
    def run(model):
        tracemalloc.start()
        seconds, predictions = clock(lambda: model.fit(X_train, y_train).predict(X_test))
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return seconds, peak, predictions

    ours_s, ours_mb, ours_pred = run(ex2_augmentation.build_model())
    base_s, base_mb, base_pred = run(KNeighborsClassifier(n_neighbors=4, weights="distance", n_jobs=-1))
    label = f"KNN {len(X_train):,} x {len(X_test):,} (float32 brute vs default)"
    report(label, ours_s, base_s)
    report(label.replace("KNN", "KNN peak MB"), ours_mb, base_mb, unit="MB")
    print(f"{'':<48} same predictions: {np.mean(ours_pred == base_pred):.4%}")


def bench_sandbox():
    from autograder.paths import SOLUTIONS_DIR
    from autograder.judge.client import Submission
    from autograder.spec import load_spec
    from solutions import confusion

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 10_000), rng.integers(0, 2, 10_000)
    submission = Submission(SOLUTIONS_DIR)
    submission.start_question(load_spec()["confusion.hidden_inputs"].limits)
    module = submission.module("confusion")
    start, _ = clock(lambda: module.precision(y_true, y_pred))  # includes starting the worker
    remote, _ = clock(lambda: module.precision(y_true, y_pred), repeat=20)
    local, _ = clock(lambda: confusion.precision(y_true, y_pred), repeat=20)
    submission.close()
    print(f"{'worker start (sandbox, import numpy, first call)':<48} {start:9.3f} s   isolation: {submission.isolation}")
    report("precision on 10,000 labels (worker vs in-process)", remote, local)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="use the embedded sample even if the full data is there")
    args = parser.parse_args()
    profile = "quick" if args.quick or not os.environ.get("CH3_DATA_DIR") else "full"
    mnist = load_mnist(profile)
    print(f"data profile: {profile}")
    X, y = np.asarray(mnist.X_train), np.asarray(mnist.y_train)
    bench_shift(X[:5000], y[:5000])
    n_train = 60_000 if profile == "full" else len(X)
    X_aug, y_aug = ex2_augmentation.augment(X[:n_train], y[:n_train])
    bench_knn(X_aug, y_aug, np.asarray(mnist.X_test)[:2000])
    bench_sandbox()


if __name__ == "__main__":
    main()
