"""Fair scores for the four exercises, and integrity checks that hold against hostile submissions.

The submissions graded here live in ``tests/fixtures/fairness/``: legitimate alternatives a
student could write (the book's SVC and forest, boosting, feature engineering, PCA + KNN),
baselines (women-only, majority class) and hostile ones (a lookup of the public MNIST test
labels that hides from the shuffled-label check; a spam model that memorises across splits).

The band rules are checked against ``autograder/judge/reference_figures.json``, the figures
measured by grading the reference (``scripts/reference_figures.py``); slow tests re-measure them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sys

import numpy as np
import pytest

from autograder.data import load_mnist
from autograder.graders.common import perturb_images
from autograder.judge.scoring import (auc_se, macro_f1_se, passes_shuffled_check, plus_four_proportion_se,
                                      proportion_se)
from autograder.grading import grade_path
from autograder.judge.reference import PRECOMPUTED_PATH, precomputed_figures
from autograder.spec import SpecError, load_spec, parse_spec
from submissions import PROJECT, reference_source, write_submission

FIXTURES = PROJECT / "tests" / "fixtures" / "fairness"
SPEC = load_spec()
SHIPPED = json.loads(PRECOMPUTED_PATH.read_text())
#: Exercise questions whose bands the shipped figures must cover on both profiles.
EXERCISE_METRICS = ["ex1_knn97.accuracy", "ex2_augmentation.accuracy", "ex3_titanic.accuracy",
                    "ex4_spam.precision", "ex4_spam.recall"]
#: Banded concept questions whose bands the shipped figures must cover on both profiles.
CONCEPT_METRICS = ["binary_classifier.sgd", "roc.forest", "multiclass.svc", "multilabel.models",
                   "multioutput.denoiser"]
TITANIC_LEGITIMATE = ["ex3_book_svc", "ex3_book_forest", "ex3_gradient_boosting", "ex3_hist_gradient_boosting",
                      "ex3_forest_title_family"]


def measured(profile, qid):
    return SHIPPED[profile]["measured"][qid]


def resolved_band(profile, qid):
    """The question's declared band, resolved with the reference's measured figure."""
    band = SPEC[qid].band(profile)
    return band.resolve(measured(profile, qid)["band"]["value"]) if band.relative_to == "reference" else band


def banded(profile):
    """Every question with a band on ``profile``: each must have its figures in the shipped file."""
    return [(profile, q.id) for q in SPEC.values() if profile in q.bands]


def fixture_submission(tmp_path, name, extra=()):
    """A copy of a fixture folder (plus reference helper modules ``extra`` as files) to grade."""
    folder = write_submission(tmp_path / name)
    for path in (FIXTURES / name).glob("*.py"):
        shutil.copy(path, folder / path.name)
    return folder


def grade_fixture(tmp_path, name, questions, **options):
    result = grade_path(fixture_submission(tmp_path, name), None, questions=questions, **options)
    return {q.id: q for q in result.questions}


# ------------------------------------------------------------------ declarations

@pytest.mark.parametrize("change, message", [
    ({"cross_validation": {"folds": 1, "repeats": 2}}, "'cross_validation.folds' field of question 'm.q' must be an int >= 2"),
    ({"cross_validation": {"folds": 5, "repeats": 0}}, "'cross_validation.repeats' field of question 'm.q' must be an int >= 1"),
    ({"cross_validation": {"folds": 5}}, "'cross_validation' field of question 'm.q' must be a table of folds and repeats"),
    ({"permuted_limit": 0.3, "perturbed_drop_limit": 2}, "'perturbed_drop_limit' field of question 'm.q' must be a float in (0, 1)"),
    ({"perturbed_drop_limit": 0.02}, "must be set only on a model question (one with permuted_limit)"),
    ({"source_kb": 0}, "'source_kb' field of question 'm.q' must be an int > 0"),
    ({"source_kb": 1.5}, "'source_kb' field of question 'm.q' must be an int > 0"),
])
def test_new_fields_are_validated_with_the_fields_name(change, message):
    valid = {"title": "t", "points": 2, "visibility": "public", "timeout": 5, "memory_mb": 1024, "threads": 1,
             "processes": 64, "file_mb": 8, "output_kb": 16}
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec({"questions": {"m.q": {**valid, **change}}})


def test_shipped_figures_match_this_library_and_data():
    """Grading never recomputes a reference figure on the critical path with this scikit-learn."""
    assert set(precomputed_figures("quick")) >= {"ex3_titanic.accuracy/cv5x2/8191", "ex4_spam/v3/5550123",
                                                  "digits/moved/6020311/3-6/1000",
                                                  "ex4_spam/rewritten/v2/5550123/4410297"}
    assert set(precomputed_figures("full")) >= {"digits/moved/6020311/3-6/2000",
                                                 "ex4_spam/rewritten/v2/5550123/4410297"}
    for qid in EXERCISE_METRICS + CONCEPT_METRICS:
        for profile in ("quick", "full"):
            assert qid in SHIPPED[profile]["measured"], f"{qid} not measured on {profile}: run scripts/reference_figures.py"


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_shipped_answers_on_fixed_hidden_inputs_are_scikit_learns(profile):
    """The confusion graders' expected values on their fixed inputs are shipped (a grade of that module
    imports no scikit-learn): they must be what scikit-learn answers on those inputs now."""
    from autograder.graders.hidden import test_concepts_hidden as graders

    shipped = precomputed_figures(profile)
    key = f"confusion.hidden_inputs/{graders.SEED + 2}/30"
    assert key in shipped, f"not shipped for {profile}: run scripts/reference_figures.py --profile {profile}"
    assert shipped[key] == graders._confusion_expected(graders._cases(graders.SEED + 2, 30))


@pytest.mark.parametrize("profile, qid", banded("quick") + banded("full"))
def test_band_is_two_standard_errors_wide_and_the_reference_one_above_full_marks(profile, qid):
    figures = measured(profile, qid)["band"]
    se = figures["se"]
    band = resolved_band(profile, qid)
    assert se and se > 0, f"{qid} ({profile}): the grader recorded no standard error"
    assert (band.full_at - band.zero_at) / se >= 2, (
        f"{qid} ({profile}): the band is {(band.full_at - band.zero_at) / se:.2f} SE wide; it must be >= 2")
    assert (figures["value"] - band.full_at) / se >= 1, (
        f"{qid} ({profile}): the reference scores {(figures['value'] - band.full_at) / se:.2f} SE above full marks")


# ------------------------------------------------------------------ standard errors

def test_plus_four_se_is_positive_at_full_agreement():
    assert plus_four_proportion_se(96, 96) == pytest.approx(np.sqrt(0.98 * 0.02 / 100), rel=1e-12)  # 0.014
    assert plus_four_proportion_se(148, 296) == pytest.approx(proportion_se(0.5, 300), rel=1e-12)
    with pytest.raises(ValueError, match="'successes' must be between 0 and n=10; got 11"):
        plus_four_proportion_se(11, 10)


@pytest.mark.parametrize("y_true, scores, variance", [
    # placements: positives beat [1, 1, 1/2] of the negatives, negatives are beaten by [2/3, 1]
    ([1, 1, 1, 0, 0], [0.9, 0.8, 0.4, 0.5, 0.3], (1 / 12) / 3 + (1 / 18) / 2),
    # a tie counts 1/2: positives [3/4, 1], negatives [3/4, 1]
    ([1, 1, 0, 0], [0.5, 0.9, 0.5, 0.1], 0.03125 / 2 + 0.03125 / 2),
])
def test_auc_se_is_delongs_placement_variance(y_true, scores, variance):
    assert auc_se(y_true, scores) == pytest.approx(np.sqrt(variance), rel=1e-12)
    with pytest.raises(ValueError, match="at least two samples of each class; got 1 positive"):
        auc_se([1, 0, 0], [0.3, 0.2, 0.1])


def test_macro_f1_se_agrees_with_the_delta_method():
    """Predicting every row positive: F1 = 2p / (1 + p) for the share p of positives, so its SE is
    2 / (1 + p)^2 * sqrt(p (1 - p) / n); the bootstrap's own error is a few percent."""
    n, p = 400, 0.5
    Y_true, Y_pred = (np.arange(n) < p * n)[:, None], np.ones((n, 1), bool)
    expected = 2 / (1 + p) ** 2 * np.sqrt(p * (1 - p) / n)
    assert macro_f1_se(Y_true, Y_pred, seed=1) == pytest.approx(expected, rel=0.05)
    assert macro_f1_se(Y_true, Y_pred, seed=1) == macro_f1_se(Y_true, Y_pred, seed=1)  # same seed, same SE


MODEL_QUESTIONS = [(p, q.id) for p in ("quick", "full") for q in SPEC.values() if q.permuted_limit is not None]


@pytest.mark.parametrize("profile, qid", MODEL_QUESTIONS)
def test_a_lookup_under_the_shuffled_label_limit_never_gets_full_marks(profile, qid):
    """A model that ignores its labels scores the same with shuffled ones: passing the check means < full marks."""
    question, band = SPEC[qid], resolved_band(profile, qid)
    for figure in [*np.linspace(0, 1, 2001), question.permuted_limit, band.full_at, band.zero_at]:
        if passes_shuffled_check(float(figure), question, band):
            assert band.credit(float(figure)) < 1, f"{qid} ({profile}): {figure} passes and gets full marks"
    # and the limit is derived from what the reference scores on shuffled labels: 3 SE of room
    shuffled = measured(profile, qid)["shuffled_labels"]
    n = measured(profile, qid)["band"]["n"]
    room = 3 * np.sqrt(shuffled["accuracy"] * (1 - shuffled["accuracy"]) / n)
    assert shuffled["accuracy"] + room <= question.permuted_limit < band.full_at
    assert shuffled["accuracy"] <= question.permuted_limit


@pytest.mark.parametrize("profile, qid", [(p, q.id) for p in ("quick", "full") for q in SPEC.values()
                                          if q.perturbed_drop_limit is not None])
def test_perturbation_leaves_the_references_accuracy_where_it_was(profile, qid):
    figures = measured(profile, qid)["perturbation"]
    paired_se = max(np.sqrt(figures["changed"] / figures["rows"]), 1 / figures["rows"])
    assert abs(figures["drop"]) <= 3 * paired_se, f"{qid} ({profile}): the perturbation moved the reference"
    assert abs(figures["drop"]) + 3 * paired_se <= SPEC[qid].perturbed_drop_limit


def test_perturbation_keeps_background_and_saturated_ink_and_moves_every_interior_pixel():
    X = load_mnist("quick").X_test[:200]
    moved = perturb_images(X, seed=1)
    assert moved.dtype == X.dtype and moved.shape == X.shape
    interior = (X > 0) & (X < 255)
    assert np.array_equal(moved[~interior], X[~interior])
    assert np.abs(moved.astype(int) - X).max() == 1 and ((moved > 0) & (moved < 255))[interior].all()
    assert not any(np.array_equal(a, b) for a, b in zip(moved, X))  # no image is left exactly as published


# ------------------------------------------------------------------ Titanic submissions (quick)

@pytest.mark.slow
@pytest.mark.parametrize("name", ["ex3_book_forest", "ex3_women_only", "ex3_majority_class"])
def test_titanic_submissions_quick(tmp_path, name):
    """The book's SVC is the reference (graded in test_grading); the boosting and feature-engineering
    submissions run on the full data only (slower fits)."""
    question = grade_fixture(tmp_path, name, ["ex3_titanic.accuracy"])["ex3_titanic.accuracy"]
    first = question.feedback.splitlines()[0]
    if name in TITANIC_LEGITIMATE:
        assert question.points >= 5 and first.startswith("accuracy over 419 passengers"), question.feedback
    else:
        assert question.points == 0 and question.status == "failed", question.feedback
    if name == "ex3_women_only":  # a fixed rule: it scores the same on shuffled labels
        assert "after training on shuffled labels" in first


@pytest.mark.slow
def test_a_titanic_model_that_memorises_across_folds_gains_nothing(tmp_path):
    """Each cross-validation fold runs in a fresh worker: memorising scores exactly the honest pipeline."""
    folder = fixture_submission(tmp_path, "hostile_titanic_memory")
    (folder / "book_titanic.py").write_text(reference_source("ex3_titanic"))
    question = grade_path(folder, None, questions=["ex3_titanic.accuracy"]).questions[0]
    honest = measured("quick", "ex3_titanic.accuracy")["figures"]
    assert question.measurements["figures"]["cross_validation"] == pytest.approx(honest["cross_validation"], abs=1e-12)
    assert question.points == 10, question.feedback


# ------------------------------------------------------------------ exercise 1

@pytest.mark.slow
def test_a_pca_knn_pipeline_searching_its_knn_step_gets_full_marks(tmp_path):
    questions = grade_fixture(tmp_path, "ex1_pca_knn", ["ex1_knn97"])
    assert {qid: q.points for qid, q in questions.items()} == {
        "ex1_knn97.grid": 2, "ex1_knn97.tune": 2, "ex1_knn97.accuracy": 10}, {q.id: q.feedback for q in questions.values()}
    lines = questions["ex1_knn97.accuracy"].feedback.splitlines()
    assert lines[0].startswith("test accuracy ") and "shuffled labels" in lines[-1]  # headline first


def test_a_grid_without_the_knn_parameters_says_what_is_missing(tmp_path):
    folder = fixture_submission(tmp_path, "ex1_pca_knn")
    source = (folder / "ex1_knn97.py").read_text()
    (folder / "ex1_knn97.py").write_text(source.replace('"knn__weights": ["uniform", "distance"]', '"pca__whiten": [False]'))
    question = {q.id: q for q in grade_path(folder, None, questions=["ex1_knn97.grid"]).questions}["ex1_knn97.grid"]
    assert question.points == 0 and "not weights" in question.feedback


def _lookup_table(mnist, train_rows=300, threshold=None, crop=False):
    """The fixture's table, keyed by the fixture's own key function under these settings."""
    namespace = {"THRESHOLD": threshold, "CROP": crop, "np": np, "hashlib": hashlib}
    source = (FIXTURES / "hostile_mnist_lookup" / "ex1_knn97.py").read_text()
    exec(source[source.index("def key(row):"):source.index("class Lookup")], namespace)
    key = namespace["key"]
    test = {key(row): int(label) for row, label in zip(mnist.X_test, mnist.y_test)}
    train = {key(row): int(label) for row, label in zip(mnist.X_train[:train_rows], mnist.y_train[:train_rows])}
    return f"TEST = {test!r}\nTRAIN = {train!r}\nTHRESHOLD = {threshold!r}\nCROP = {crop!r}\n"


def _load(folder, module):
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"fixture_{module}_{id(folder)}", folder / f"{module}.py")
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        return loaded
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("lookup_table", None)


@pytest.mark.slow
def test_a_lookup_that_hides_from_the_shuffled_label_check_no_longer_scores(tmp_path):
    mnist = load_mnist("quick")
    folder = fixture_submission(tmp_path, "hostile_mnist_lookup")
    (folder / "lookup_table.py").write_text(_lookup_table(mnist))
    # The attack is real: honest on shuffled labels, every public test image right with real ones.
    attack = _load(folder, "ex1_knn97")
    shuffled = attack.build_model().fit(mnist.X_train, np.random.default_rng(0).permutation(mnist.y_train))
    assert not shuffled.labels_look_real_
    assert np.mean(attack.build_model().fit(mnist.X_train, mnist.y_train).predict(mnist.X_test) == mnist.y_test) == 1
    question = grade_path(folder, None, questions=["ex1_knn97.accuracy"]).questions[0]
    assert question.points == 0 and question.status == "failed", question.feedback
    assert question.feedback.startswith("test accuracy not counted") and "intensity level" in question.feedback
    assert question.measurements["perturbation"]["drop"] > SPEC["ex1_knn97.accuracy"].perturbed_drop_limit


@pytest.mark.slow
def test_a_lookup_keyed_by_thresholded_pixels_survives_the_intensity_check_but_not_the_shifted_images(tmp_path):
    mnist = load_mnist("quick")
    folder = fixture_submission(tmp_path, "hostile_mnist_lookup")
    (folder / "lookup_table.py").write_text(_lookup_table(mnist, threshold=127))
    attack = _load(folder, "ex1_knn97")
    model = attack.build_model().fit(mnist.X_train, mnist.y_train)
    perturbed = perturb_images(mnist.X_test, 0)
    assert np.mean(model.predict(perturbed) == mnist.y_test) > 0.97   # the key survives one intensity level (an honest KNN: 0.93)
    question = grade_path(folder, None, questions=["ex1_knn97.accuracy"]).questions[0]
    assert question.points == 0 and question.status == "failed", question.feedback
    figures = question.measurements
    assert figures["perturbation"]["drop"] <= SPEC["ex1_knn97.accuracy"].perturbed_drop_limit  # not caught there
    assert figures["shift"]["excess"] > figures["shift"]["limit"]
    assert question.feedback.startswith("test accuracy not counted") and "moved by one pixel" in question.feedback


@pytest.mark.slow
def test_a_lookup_keyed_by_the_cropped_thresholded_digit_survives_shifts_but_not_the_moved_images(tmp_path):
    """A key invariant to intensity and to moving the digit: the one-pixel shifts alone would not
    catch it; the copies also turned by a few degrees do."""
    from scipy import ndimage

    mnist = load_mnist("quick")
    folder = fixture_submission(tmp_path, "hostile_mnist_lookup")
    (folder / "lookup_table.py").write_text(_lookup_table(mnist, threshold=127, crop=True))
    attack = _load(folder, "ex1_knn97")
    model = attack.build_model().fit(mnist.X_train, mnist.y_train)
    shifted = np.stack([ndimage.shift(im.reshape(28, 28), (1, 0), order=0, cval=0).ravel() for im in mnist.X_test])
    assert np.mean(model.predict(perturb_images(mnist.X_test, 0)) == mnist.y_test) > 0.97
    assert np.mean(model.predict(shifted) == mnist.y_test) > 0.97  # the key survives a shift (honest KNN: 0.87)
    question = grade_path(folder, None, questions=["ex1_knn97.accuracy"]).questions[0]
    assert question.points == 0 and question.status == "failed", question.feedback
    figures = question.measurements
    assert figures["perturbation"]["drop"] <= SPEC["ex1_knn97.accuracy"].perturbed_drop_limit
    assert figures["shift"]["excess"] > figures["shift"]["limit"], figures["shift"]
    assert "moved by one pixel and turned by" in question.feedback


@pytest.mark.slow
def test_the_references_and_a_pca_knn_pass_the_shifted_image_check_with_room(tmp_path):
    qids = ["ex1_knn97.accuracy", "ex2_augmentation.accuracy"]
    graded = [*grade_path(PROJECT / "solutions", None, questions=qids).questions,
              *grade_path(fixture_submission(tmp_path, "ex1_pca_knn"), None, questions=qids[:1]).questions]
    for question in graded:
        shift = question.measurements["shift"]
        assert question.points == question.max_points and shift["excess"] <= shift["limit"] / 2, (question.id, shift)


def test_a_module_over_the_source_cap_fails_its_questions_without_running(tmp_path):
    folder = fixture_submission(tmp_path, "hostile_mnist_lookup")
    table = {hashlib.sha1(str(i).encode()).hexdigest(): i % 10 for i in range(10_000)}  # full MNIST's size
    (folder / "lookup_table.py").write_text(f"TEST = {table!r}\nTRAIN = {{}}\n")
    result = grade_path(folder, None, questions=["ex1_knn97"])
    cap = SPEC["ex1_knn97.accuracy"].source_kb
    for question in result.questions:
        assert question.points == 0 and question.status == "failed"
        assert f"over the {cap} KB limit" in question.feedback and "lookup_table.py" in question.feedback
        assert question.output == ""  # no student code ran


# ------------------------------------------------------------------ exercise 4

@pytest.mark.slow
def test_a_spam_model_that_memorises_across_splits_gains_nothing(tmp_path):
    """Each split runs in a fresh worker: the memorising model scores exactly the honest pipeline."""
    folder = fixture_submission(tmp_path, "hostile_spam_memory")
    (folder / "book_spam.py").write_text(reference_source("ex4_spam"))
    questions = {q.id: q for q in grade_path(folder, None, questions=["ex4_spam.precision", "ex4_spam.recall"]).questions}
    for qid in ("ex4_spam.precision", "ex4_spam.recall"):
        band = questions[qid].measurements["band"]
        assert band["value"] == pytest.approx(measured("quick", qid)["band"]["value"], abs=1e-12), qid
        assert questions[qid].feedback.startswith("mean ")


def _spam_lookup_table(folder, key: str) -> str:
    """The public labels of the quick corpus's emails, keyed by the hostile fixture's own key function."""
    from autograder.data import load_spam

    (folder / "lookup_table.py").write_text(f"KEY = {key!r}\nLABELS = {{}}\n")
    fixture = _load(folder, "ex4_spam")
    corpus = load_spam("quick")
    labels = {fixture.key(raw): label for label, emails in ((0, corpus.easy_ham), (1, corpus.spam)) for raw in emails}
    sys.modules.pop("book_spam", None)
    return f"KEY = {key!r}\nLABELS = {labels!r}\n"


@pytest.mark.slow
@pytest.mark.parametrize("key", ["bytes", "words", "subject"])
def test_a_spam_lookup_of_the_public_labels_is_caught_by_the_rewritten_emails(tmp_path, key):
    """Without its table the fixture finds no spam (0 points); with it every public email is right.
    The rewritten copies (new headers, one line left out) break both keys: the model scores 0."""
    folder = fixture_submission(tmp_path, "hostile_spam_lookup")
    (folder / "book_spam.py").write_text(reference_source("ex4_spam"))
    (folder / "lookup_table.py").write_text(_spam_lookup_table(folder, key))
    questions = {q.id: q for q in grade_path(folder, None, questions=["ex4_spam.precision", "ex4_spam.recall"]).questions}
    for qid, question in questions.items():
        figures = question.measurements["rewritten_emails"]
        assert question.measurements["band"]["value"] == 1.0, qid  # the table alone: every email right
        assert question.points == 0 and question.status == "failed", question.feedback
        assert figures["excess"] > figures["limit"], figures
        assert question.feedback.startswith("not counted") and "rewritten" in question.feedback


@pytest.mark.slow
@pytest.mark.parametrize("classifier", [None, "MultinomialNB()", "LinearSVC(random_state=42)"])
def test_the_chapters_spam_models_pass_the_rewritten_email_check_with_room(tmp_path, classifier):
    """The reference and the chapter's other legitimate filters (scripts/spam_fairness.py)."""
    source = reference_source("ex4_spam")
    if classifier:
        source = source.replace("LogisticRegression(max_iter=1000, random_state=42))", f"{classifier})")
        source += "\nfrom sklearn.naive_bayes import MultinomialNB\nfrom sklearn.svm import LinearSVC\n"
        assert classifier in source
    folder = write_submission(tmp_path / "spam", files={"ex4_spam.py": source})
    for question in grade_path(folder, None, questions=["ex4_spam.precision", "ex4_spam.recall"]).questions:
        figures = question.measurements["rewritten_emails"]
        assert figures["excess"] <= figures["limit"] / 2, (classifier, figures)
        assert figures["changed"] < 0.03, (classifier, figures)  # a filter reading words hardly notices
        assert not question.feedback.startswith("not counted"), question.feedback


def test_a_rewritten_email_keeps_its_words_but_one_line_and_loses_its_identifying_headers():
    from email import message_from_bytes

    from autograder.data import load_spam
    from autograder.graders.hidden.test_exercises_hidden import rewrite_email

    corpus = load_spam("quick")
    for raw in corpus.easy_ham[:20] + corpus.spam[:20]:
        copy = rewrite_email(raw, [1, len(raw)])
        assert copy != raw and copy == rewrite_email(raw, [1, len(raw)])
        before, after = message_from_bytes(raw), message_from_bytes(copy)
        assert after["Message-ID"] != before["Message-ID"] and after["Received"] is None
        assert after["From"] == before["From"]
        if "=?" not in str(before["Subject"]):  # the subject's words, reordered, less one of three or more
            old, new = str(before["Subject"]).split(), str(after["Subject"]).split()
            assert set(new) <= set(old) and len(old) - len(new) == (len(old) >= 3)
        if not before.is_multipart():
            old = before.get_payload().splitlines()
            new = after.get_payload().splitlines()
            assert len(old) - len(new) in (0, 1) and set(new) <= set(old)


def test_the_rewrite_verdict_is_policy_so_rescoring_applies_it():
    from autograder.policy import scoring as policy

    question = SPEC["ex4_spam.precision"]
    measurements = {"band": {"metric": "precision", "value": 1.0, "full_at": 0.93, "zero_at": 0.85, "reference": 0.97},
                    "rewritten_emails": {"excess": 0.2, "se": 0.01}}
    caught = policy.score(measurements, question, "quick")
    assert caught.fraction == 0 and "rewritten" in caught.integrity[0]
    measurements["rewritten_emails"]["excess"] = 0.005
    assert policy.score(measurements, question, "quick").fraction == 1


# ------------------------------------------------------------------ full data

@pytest.mark.full_data
@pytest.mark.slow
@pytest.mark.parametrize("name", TITANIC_LEGITIMATE + ["ex3_women_only", "ex3_majority_class"])
def test_titanic_submissions_full(tmp_path, data_dir, name):
    question = grade_fixture(tmp_path, name, ["ex3_titanic.accuracy"], profile="full",
                             data_dir=data_dir)["ex3_titanic.accuracy"]
    print(f"{name}: {question.points:g}/10 {question.feedback.splitlines()[0]}")
    if name == "ex3_book_forest":  # test 0.758, below the women-only baseline; out of fold 0.805
        assert 4 <= question.points < 10
    elif name in TITANIC_LEGITIMATE:
        assert question.points == 10, question.feedback
    else:
        assert question.points == 0 and question.status == "failed", question.feedback


@pytest.mark.full_data
@pytest.mark.slow
def test_the_chapters_spam_models_get_full_marks_full(data_dir, monkeypatch):
    """Naive Bayes, a linear SVM and a regularised logistic regression: the range of legitimate models
    (docs/design/thresholds.md) earns full marks on precision and at least 4.5/5 on recall."""
    monkeypatch.syspath_prepend(str(PROJECT / "scripts"))
    import spam_fairness

    figures = spam_fairness.measure("full", data_dir)
    reference = figures[next(iter(spam_fairness.MODELS))]
    for metric, least in (("precision", 1.0), ("recall", 0.9)):
        band = SPEC[f"ex4_spam.{metric}"].band("full").resolve(reference[metric])
        assert reference[metric] == pytest.approx(measured("full", f"ex4_spam.{metric}")["band"]["value"], abs=1e-9)
        for name, f in figures.items():
            assert band.credit(f[metric]) >= least, (name, metric, f[metric], band)
    recall = SPEC["ex4_spam.recall"].band("full").resolve(reference["recall"])
    assert 0 < recall.credit(0.888) < 0.5  # a filter trading recall for precision keeps some credit


def _remeasured_changes(monkeypatch, profile, questions, data_dir=None):
    """What grading the reference now measures on ``profile`` that differs from the shipped file."""
    monkeypatch.syspath_prepend(str(PROJECT / "scripts"))
    import reference_figures

    entry = reference_figures.measure(profile, questions, data_dir)
    return reference_figures.differences({k: SHIPPED[profile]["measured"][k] for k in questions}, entry["measured"])


@pytest.mark.slow
def test_shipped_quick_figures_of_the_concept_bands_are_current(monkeypatch):
    """The concept graders' figures and standard errors (seconds to re-measure) are the shipped ones."""
    changed = _remeasured_changes(monkeypatch, "quick", CONCEPT_METRICS)
    assert changed == [], "run scripts/reference_figures.py --profile quick:\n" + "\n".join(changed)


@pytest.mark.full_data
@pytest.mark.slow
def test_shipped_full_profile_figures_are_current(data_dir, monkeypatch):
    """Re-measures the banded questions on the full data (the ex1/ex2 fits: minutes) and compares."""
    changed = _remeasured_changes(monkeypatch, "full", EXERCISE_METRICS + CONCEPT_METRICS, data_dir)
    assert changed == [], "run scripts/reference_figures.py --profile full:\n" + "\n".join(changed)


def test_the_shift_verdict_is_policy_so_rescoring_applies_a_changed_limit():
    import dataclasses

    from autograder.policy import scoring as policy

    question = SPEC["ex1_knn97.accuracy"]
    measurements = {"band": {"metric": "accuracy", "value": 0.99, "full_at": 0.969, "zero_at": 0.96},
                    "shift": {"excess": 0.05, "se": 0.009}}
    caught = policy.score(measurements, question, "full")
    assert caught.fraction == 0 and "one pixel" in caught.integrity[0]
    loosened = dataclasses.replace(question, perturbed_drop_limit=0.06)
    assert policy.score(measurements, loosened, "full").fraction == 1
