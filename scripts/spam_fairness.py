"""Exercise 4's bands against the chapter's legitimate spam models, on the grader's hidden splits.

    CH3_DATA_DIR=/path/to/kit python scripts/spam_fairness.py --profile full

Each model is the book's preprocessing (``solutions/ex4_spam``: words -> counts -> vectors)
followed by a different classifier: the book's logistic regression (the reference), multinomial
naive Bayes, a linear SVM and a more strongly regularised logistic regression. Prints, per model,
the mean precision and recall over the grader's splits, their standard errors as the grader
computes them (distinct emails: flagged ones for precision, tested spams for recall), and the
credit each band gives (the docs' thresholds table). Trusted code, run in-process.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_score, recall_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC

from autograder.data import load_spam
from autograder.graders.hidden import test_exercises_hidden as graders
from autograder.judge.scoring import proportion_se
from autograder.spec import load_spec
from solutions import ex4_spam

MODELS = {
    "logistic regression (the book's, the reference)": lambda: LogisticRegression(max_iter=1000, random_state=42),
    "multinomial naive Bayes": lambda: MultinomialNB(),
    "linear SVM (LinearSVC)": lambda: LinearSVC(random_state=42),
    "logistic regression, C=0.1": lambda: LogisticRegression(C=0.1, max_iter=1000, random_state=42),
}


def measure(profile: str, data_dir=None) -> dict:
    corpus = load_spam(profile, data_dir=data_dir)
    emails = corpus.easy_ham + corpus.spam
    y = np.array([0] * len(corpus.easy_ham) + [1] * len(corpus.spam))
    splits = list(StratifiedShuffleSplit(graders.SPAM_SPLITS, test_size=0.2, random_state=graders.SEED)
                  .split(emails, y))
    counts = ex4_spam.EmailToWordCounter().fit_transform(emails)  # stateless: the same counts in every split
    figures = {}
    for name, make in MODELS.items():
        precisions, recalls, flagged, positives = [], [], set(), set()
        for train, test in splits:
            vectorizer = ex4_spam.WordCounterToVector().fit([counts[i] for i in train])
            model = make().fit(vectorizer.transform([counts[i] for i in train]), y[train])
            predicted = model.predict(vectorizer.transform([counts[i] for i in test]))
            precisions.append(precision_score(y[test], predicted, zero_division=0))
            recalls.append(recall_score(y[test], predicted, zero_division=0))
            flagged.update(test[predicted == 1].tolist())
            positives.update(test[y[test] == 1].tolist())
        precision, recall = float(np.mean(precisions)), float(np.mean(recalls))
        figures[name] = {"precision": precision, "recall": recall, "flagged": len(flagged),
                         "spams": len(positives), "precision_se": proportion_se(precision, len(flagged)),
                         "recall_se": proportion_se(recall, len(positives))}
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    args = parser.parse_args(argv)
    figures = measure(args.profile, os.environ.get("CH3_DATA_DIR") if args.profile == "full" else None)
    spec = load_spec()
    reference = next(iter(figures.values()))
    print("| model | precision | SE | points / 5 | recall | SE | points / 5 |")
    print("|---|---|---|---|---|---|---|")
    for name, f in figures.items():
        cells = [name]
        for metric in ("precision", "recall"):
            band = spec[f"ex4_spam.{metric}"].band(args.profile).resolve(reference[metric])
            points = 5 * band.credit(f[metric])
            cells += [f"{f[metric]:.4f}", f"{f[f'{metric}_se']:.4f}", f"{points:.1f}"]
        print("| " + " | ".join(cells) + " |")
    for metric in ("precision", "recall"):
        band = spec[f"ex4_spam.{metric}"].band(args.profile).resolve(reference[metric])
        se = reference[f"{metric}_se"]
        print(f"{metric}: reference {reference[metric]:.4f} (SE {se:.4f}); full marks at {band.full_at:.4f} "
              f"({(reference[metric] - band.full_at) / se:.1f} SE below), zero at {band.zero_at:.4f} "
              f"(band {(band.full_at - band.zero_at) / se:.1f} SE wide)")


if __name__ == "__main__":
    main()
