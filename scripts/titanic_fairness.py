"""Each Titanic fixture of tests/fixtures/fairness scored as the grader scores it (in-process, trusted code).

    CH3_DATA_DIR=/path/to/kit python scripts/titanic_fairness.py --profile full

Prints, per submission, the out-of-fold, hidden-test and pooled accuracy, the credit under the
declared band, and the pooled accuracy after training on shuffled labels (the table in docs/design/thresholds.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

import numpy as np

from autograder.data import load_titanic
from autograder.graders import common
from autograder.graders.hidden import test_exercises_hidden as graders
from autograder.judge.reference import ReferenceCache
from autograder.spec import load_spec

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "fairness"


def load_module(path: Path):
    spec = importlib.util.spec_from_file_location(f"fixture_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    args = parser.parse_args(argv)
    data_dir = os.environ.get("CH3_DATA_DIR") if args.profile == "full" else None
    titanic = load_titanic(args.profile, data_dir=data_dir)
    question = load_spec()["ex3_titanic.accuracy"]
    X, y = titanic.train.drop(columns="Survived"), titanic.train["Survived"].to_numpy()
    X_test, y_test = titanic.test, np.asarray(titanic.test_labels)
    cv = question.cross_validation
    folds = common.titanic_folds(X, y, cv, graders.TITANIC_CV_SEED)
    shuffled_labels = np.random.default_rng(graders.SEED).permutation(y)
    band = question.band(args.profile)
    reference = ReferenceCache(args.profile).figure(
        f"ex3_titanic.accuracy/cv{cv.folds}x{cv.repeats}/{graders.TITANIC_CV_SEED}", lambda: None, needed=False)
    resolved = band.resolve(reference)
    print(f"{args.profile}: band full at {resolved.full_at:.4f}, zero at {resolved.zero_at:.4f}")
    print("| submission | out of fold | hidden test | pooled | points /10 | shuffled labels |\n|---|---|---|---|---|---|")
    for path in sorted(FIXTURES.glob("ex3_*/ex3_titanic.py")):  # not the hostile ones
        build = load_module(path).build_pipeline

        def predict(X_fit, y_fit, X_new, build=build):
            return build().fit(X_fit, y_fit).predict(X_new)

        figure = common.titanic_figure(predict, X, y, X_test, y_test, folds, cv.repeats)
        shuffled = common.titanic_figure(predict, X, y, X_test, y_test, folds, cv.repeats, labels=shuffled_labels)
        flagged = not common.passes_shuffled_check(shuffled["combined"], question, resolved)
        points = 0.0 if flagged else 10 * resolved.credit(figure["combined"])
        print(f"| {path.parent.name} | {figure['cross_validation']:.4f} | {figure['test']:.4f} | "
              f"{figure['combined']:.4f} | {points:.1f}{' (flagged)' if flagged else ''} | {shuffled['combined']:.4f} |")


if __name__ == "__main__":
    main()
