"""Hidden graders of the four exercises: the grader fits what build_* returns, on data it controls.

Models are scored on held-out data whose labels never leave this process. Three integrity
checks run beside the score (details in docs/design/thresholds.md):

- shuffled labels: a model trained on shuffled labels that still scores above ``permuted_limit``
  did not learn from its training data (it carries the public test labels) and gets 0; the
  limit used is never above the full-marks line, so a label-ignoring lookup under it cannot
  reach full marks;
- perturbed test images (MNIST): interior pixels move one intensity level, which leaves a real
  model's accuracy where it was but breaks exact lookups of the public test images; a model
  far better on the unperturbed copies than on the perturbed ones is flagged;
- moved test images (MNIST): copies moved one pixel (a random direction) and turned by 3 to 6
  degrees (a random angle and sense), mixed into the same predict call; a model whose accuracy
  falls by more on them than the reference KNN's does on the same images knows the exact public
  images by something other than their digit, and gets 0. The two moves change different things:
  a table keyed by thresholded pixels survives the intensity perturbation, not a shift; one keyed
  by the thresholded digit cropped to its bounding box survives the shift, not the turn. A lookup
  can gain at most the check's limit (about three standard errors of the paired drops) before it
  is caught;
- fresh workers per spam split, so no state filled in one split's ``fit`` reaches another;
- rewritten emails (spam): each test email is also predicted rewritten, in the same predict call:
  new Message-ID and Date, no Received headers, the subject's words reordered (one left out of
  three or more), a blank line more at the end and, where the body is one part, one line of its
  text left out. A bag-of-words filter reads the same words less a few and hardly changes its
  answer; a table of the public emails keyed by their bytes, their subject or their body's words
  no longer finds them. A model whose accuracy falls by more on the rewritten
  copies than the reference pipeline's does on the same copies (beyond three standard errors of
  the paired drops) gets 0 for precision and recall.

Feedback starts with the headline figure against its band; the checks follow.
"""

import collections
import importlib

import numpy as np
import pytest

from autograder.graders.common import (Property, check, describe_call, fit_predict, in_worker, mnist_subset,
                                       parsed_email, perturb_images, summarize, titanic_figure, titanic_folds)
from autograder.graders.explain import grid_search_as_model, param_grid_of, shift_check
from autograder.graders.figures import confusion_counts, misclassified_digits, misclassified_emails
from autograder.judge.client import StudentCodeError
from autograder.judge.scoring import (passes_perturbation_check, passes_rewrite_check, passes_shift_check,
                                      passes_shuffled_check, proportion_se, rewrite_excess_limit, shift_excess_limit)
from autograder.judge.validate import InvalidOutput, as_array, as_labels, as_remote


def _reference(module: str):
    """A reference solution, imported when its question runs (ex4's nltk alone adds 0.2 s to every grading)."""
    return importlib.import_module(f"solutions.{module}")


SEED = 5_550_123
#: Rows of the shuffled-label check (enough for KNN to be far above chance if it learns).
PERMUTED_ROWS = {"quick": 1000, "full": 3000}
#: Unperturbed test images predicted beside the perturbed ones (mixed in one call, in random order).
ORIGINAL_ROWS = {"quick": 1000, "full": 2000}
PERTURB_SEED = 7_340_117
#: Unperturbed test images also predicted moved by one pixel (a random direction each) and turned
#: by MOVE_DEGREES (a random angle and sense each).
SHIFTED_ROWS = {"quick": 1000, "full": 2000}
SHIFT_SEED = 6_020_311
MOVE_DEGREES = (3.0, 6.0)
TITANIC_CV_SEED = 8_191
SPAM_SPLITS = 5
REWRITE_SEED = 4_410_297
#: Headers a rewritten email loses (a new Message-ID and Date replace the first two).
REWRITTEN_HEADERS = (b"message-id", b"date", b"received")


def shuffled_label_limit(question, resolved_band) -> float:
    """The limit the feedback states: the declared one, or the full-marks line if that is lower."""
    return min(question.permuted_limit, resolved_band.full_at)


def _reference_figure(reference, band, key, compute):
    """The reference's figure: computed if a relative band needs it, else shown only if precomputed or cached."""
    return reference.figure(key, compute, needed=band.relative_to == "reference")


def _mnist_full_split(data):
    m = data.mnist
    return np.asarray(m.X_train), np.asarray(m.y_train), np.asarray(m.X_test), np.asarray(m.y_test)


def _grade_digit_model(question, band, profile, reference, credit, *, build, fit, X_train, y_train, X_test, y_test,
                       key, reference_predict):
    """Shared by exercises 1 and 2: shuffled-label check, fit, score on perturbed images, then the flags."""
    from sklearn.metrics import accuracy_score
    X_scored = perturb_images(X_test, PERTURB_SEED)
    rng = np.random.default_rng(SEED + 7)
    originals = np.sort(rng.choice(len(X_test), size=min(ORIGINAL_ROWS[profile], len(X_test)), replace=False))
    moved = originals[:SHIFTED_ROWS[profile]]   # originals is a random sample: its head is one too
    X_shifted = move_images(X_test[moved], SHIFT_SEED)
    batch = np.concatenate([X_scored, X_test[originals], X_shifted])
    order = rng.permutation(len(batch))  # perturbed, unperturbed and shifted copies interleaved at random
    what = f"{build.module}.build_model()"

    def predict_batch(model):
        """Predictions on the perturbed test images, the unperturbed copies and the shifted copies,
        from one predict call."""
        mixed = as_labels(model.call("predict", batch[order]), f"{what}.predict()", length=len(batch),
                          allowed=range(10))
        predictions = np.empty_like(mixed)
        predictions[order] = mixed
        return np.split(predictions, [len(X_test), len(X_test) + len(originals)])

    # Trained on shuffled labels, a model that learns scores about chance on both kinds of image.
    n = PERMUTED_ROWS[profile]
    model = build()
    if not hasattr(model, "call"):
        raise InvalidOutput(f"{what} returned plain data ({type(model).__name__}); expected an unfitted estimator")
    if model.isinstance_of("GridSearchCV") or model.isinstance_of("RandomizedSearchCV"):
        raise InvalidOutput(grid_search_as_model(what, len(X_train)))
    model.call("fit", X_train[:n], np.random.default_rng(SEED).permutation(y_train[:n]))
    shuffled_on = predict_batch(model)[:2]
    shuffled_figures = {"perturbed": accuracy_score(y_test, shuffled_on[0]),
                        "unperturbed": accuracy_score(y_test[originals], shuffled_on[1])}
    shuffled = max(shuffled_figures.values())

    model = build()
    fit(model)
    on_perturbed, on_originals, on_shifted = predict_batch(model)
    accuracy = accuracy_score(y_test, on_perturbed)
    original_accuracy = accuracy_score(y_test[originals], on_originals)
    drop = original_accuracy - accuracy_score(y_test[originals], on_perturbed[originals])
    changed = float(np.mean(on_originals != on_perturbed[originals]))  # the drop's paired SE is sqrt(changed / rows)

    expected = _reference_figure(reference, band, key, lambda: accuracy_score(y_test, reference_predict(X_scored)))
    shift = _shift_figures(y_test[moved], on_originals[:len(moved)], on_shifted, reference.get(
        f"digits/moved/{SHIFT_SEED}/{MOVE_DEGREES[0]:g}-{MOVE_DEGREES[1]:g}/{len(moved)}",
        lambda: _reference_shift_figures(y_test[moved], X_test[moved], X_shifted, X_train, y_train)))
    resolved = band.resolve(expected)
    limit = shuffled_label_limit(question, resolved)
    credit.measure("shuffled_labels", {"accuracy": shuffled, **shuffled_figures, "limit": limit, "rows": int(n)})
    credit.measure("perturbation", {"perturbed": accuracy, "unperturbed": original_accuracy, "drop": drop,
                                    "changed": changed, "rows": int(len(originals)),
                                    "drop_limit": question.perturbed_drop_limit})
    shift_limit = shift_excess_limit(shift["se"], question)
    credit.measure("shift", {**shift, "limit": shift_limit})
    # the figure is recorded before the integrity verdicts, so that rescoring can apply changed limits
    credit.band("test accuracy", accuracy, resolved, n=len(y_test), reference=expected)
    assert passes_shuffled_check(shuffled, question, resolved), (
        f"test accuracy not counted: after training on shuffled labels the model still scores {shuffled:.3f} on "
        f"the test images (limit {limit:.3f}; a model that learns from its training data scores about chance, "
        "0.10). These predictions do not come from the training data (for example, test labels stored in the "
        "code), so this question scores 0.")
    assert passes_perturbation_check(drop, question), (
        f"test accuracy not counted: on {len(originals):,} test images the model scores {original_accuracy:.4f} "
        f"as published but {original_accuracy - drop:.4f} after moving interior pixels by one intensity level "
        f"(a drop of {drop:.4f}; limit {question.perturbed_drop_limit}). A model that learned digits hardly "
        "notices; this one recognises the exact public test images, so this question scores 0.")
    assert passes_shift_check(shift["excess"], shift["se"], question), (
        f"test accuracy not counted: on {shift['rows']:,} test images moved by one pixel and turned by "
        f"{MOVE_DEGREES[0]:g} to {MOVE_DEGREES[1]:g} degrees the model's accuracy falls "
        f"by {shift['drop']:.4f} (from {shift['unshifted']:.4f} to {shift['shifted']:.4f}), while the reference "
        f"KNN's falls by {shift['reference_drop']:.4f} on the same images: {shift['excess']:.4f} more (limit "
        f"{shift_limit:.4f}, three standard errors). Moving a digit by one pixel or turning it a few degrees "
        "does not change which digit it is; a model that is this much better on the exact public images recognises them by something else "
        "(for example a table of the test images), so this question scores 0.")
    credit.measure("confusion_matrix", confusion_counts(y_test, on_perturbed, sorted(set(np.unique(y_test)))))
    credit.note(f"test images perturbed by one intensity level per interior pixel: accuracy {original_accuracy:.4f} "
                f"on {len(originals):,} unperturbed copies (drop {drop:+.4f}, flagged above "
                f"{question.perturbed_drop_limit})")
    credit.note(f"accuracy after training on shuffled labels: {shuffled:.3f} (flagged above {limit:.3f})")
    return on_perturbed


def move_images(X, seed: int):
    """Each image turned by MOVE_DEGREES (a random angle and sense each; bilinear, about its centre)
    and moved one pixel up, down, left or right (a random direction each), zeros filling in."""
    from scipy import ndimage
    rng = np.random.default_rng(seed)
    directions = np.array([(0, 1), (0, -1), (1, 0), (-1, 0)])
    moves = directions[rng.integers(0, len(directions), len(X))]
    angles = rng.uniform(*MOVE_DEGREES, len(X)) * rng.choice([-1, 1], len(X))
    X = np.asarray(X)
    moved = []
    for image, move, angle in zip(X, moves, angles):
        turned = ndimage.rotate(image.reshape(28, 28).astype(float), angle, reshape=False, order=1, cval=0)
        moved.append(ndimage.shift(np.clip(np.rint(turned), 0, 255), move, order=0, cval=0).ravel())
    return np.stack(moved).astype(X.dtype) if moved else X.copy()


def _reference_shift_figures(y, X_unshifted, X_shifted, X_train, y_train) -> dict:
    """The reference KNN's (exercise 1, no augmentation: the least shift-robust legitimate model of the
    two exercises) predictions on the unshifted and shifted copies, as accuracies and the share changed."""
    from sklearn.metrics import accuracy_score
    model = _reference("ex1_knn97").build_model().fit(X_train, y_train)
    unshifted, shifted = np.split(model.predict(np.concatenate([X_unshifted, X_shifted])), 2)
    return {"unshifted": float(accuracy_score(y, unshifted)), "shifted": float(accuracy_score(y, shifted)),
            "changed": float(np.mean(unshifted != shifted))}


def _shift_figures(y, on_unshifted, on_shifted, reference_figures: dict) -> dict:
    """The student's accuracy drop on shifted copies beside the reference's on the same images.

    Both drops are paired differences on the same images; the standard error of their difference
    is taken as sqrt((share the student's predictions changed + share the reference's changed) / rows),
    an upper bound for the difference of two independent paired drops."""
    from sklearn.metrics import accuracy_score
    unshifted, shifted = float(accuracy_score(y, on_unshifted)), float(accuracy_score(y, on_shifted))
    changed = float(np.mean(on_unshifted != on_shifted))
    reference_drop = reference_figures["unshifted"] - reference_figures["shifted"]
    return {"unshifted": unshifted, "shifted": shifted, "drop": unshifted - shifted,
            "reference_drop": reference_drop, "excess": (unshifted - shifted) - reference_drop,
            "se": float(np.sqrt((changed + reference_figures["changed"]) / len(y))), "rows": int(len(y))}


@pytest.mark.question("ex1_knn97.tune")
def test_tune(submission, data, credit):
    X, y, _, _ = mnist_subset(data.mnist, 600, 1, seed=SEED)
    ex1 = submission.module("ex1_knn97")
    search = as_remote(ex1.tune(X, y, cv=3), "tune()", "GridSearchCV")
    grids = param_grid_of(ex1)
    call = describe_call(ex1.tune, {"X": X, "y": y}, {"cv": 3})
    checks = []
    check(checks, "best_params_ comes from param_grid()", f"{call}.best_params_", lambda: search.get("best_params_"),
          Property(f"one combination of param_grid() = {grids!r:.200}", lambda best: isinstance(best, dict) and any(
              all(k in g and best[k] in g[k] for k in best) for g in grids)))
    check(checks, "cv=3 was used", f"{call}.n_splits_", lambda: search.get("n_splits_"), 3)
    credit.checks(checks)


@pytest.mark.question("ex1_knn97.accuracy")
def test_knn_accuracy(submission, data, profile, question, band, reference, credit):
    X_train, y_train, X_test, y_test = _mnist_full_split(data)
    ex1 = submission.module("ex1_knn97")
    predicted = _grade_digit_model(
        question, band, profile, reference, credit, build=ex1.build_model,
        fit=lambda model: model.call("fit", X_train, y_train), X_train=X_train, y_train=y_train, X_test=X_test,
        y_test=y_test, key=f"ex1_knn97.accuracy/perturbed/{PERTURB_SEED}",
        reference_predict=lambda X: _reference("ex1_knn97").build_model().fit(X_train, y_train).predict(X))
    credit.measure("misclassified_digits", misclassified_digits(X_test, y_test, predicted))


def _random_images(rng, n):
    return rng.integers(0, 256, (n, 784)).astype(np.uint8) * (rng.random((n, 784)) < 0.3)


@pytest.mark.question("ex2_augmentation.shift")
def test_shift_image(submission, credit):
    ex2 = submission.module("ex2_augmentation")
    rng = np.random.default_rng(SEED + 1)
    checks = []
    moves = [(1, 0), (-1, 0), (0, 1), (0, -1), (2, -3), (-4, 5)]
    for i, (image, (dx, dy)) in enumerate(zip(_random_images(rng, 12), moves * 2)):
        square = i >= len(moves)  # half the cases as 28x28, half as 784-vectors
        given = image.reshape(28, 28) if square else image
        shift_check(checks, f"dx={dx}, dy={dy}, shape {given.shape}", ex2.shift_image, given, dx, dy)
    credit.checks(checks)


def _rows_with_labels(X, y):
    return collections.Counter((row.tobytes(), int(label)) for row, label in zip(X, y))


@pytest.mark.question("ex2_augmentation.augment")
def test_augment(submission, data, credit):
    from scipy import ndimage
    X, y, _, _ = mnist_subset(data.mnist, 40, 1, seed=SEED + 2)
    augment = submission.module("ex2_augmentation").augment
    call = describe_call(augment, {"X": X, "y": y})
    result = augment(X, y)
    assert isinstance(result, (tuple, list)) and len(result) == 2, (
        f"called {call}; expected a tuple (X_augmented, y_augmented); got {summarize(result)}")
    images = X.reshape(-1, 28, 28)
    expected_X = np.concatenate([X] + [np.stack([ndimage.shift(im, [dy, dx], order=0, cval=0) for im in images])
                                       .reshape(len(X), 784) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))])
    checks = []
    # the accuracy question calls .shape on what augment returns: lists fail there, so they fail here first
    check(checks, "returns numpy arrays", call, lambda: [type(part).__name__ for part in result],
          Property("two numpy arrays (the grader trains on them and reads their .shape); Python lists are not "
                   "arrays: wrap them with np.array(...) or build the rows with np.concatenate",
                   lambda kinds: kinds == ["ndarray", "ndarray"]))
    X_aug = as_array(result[0], "augment()[0]", shape=(5 * len(X), 784))
    y_aug = as_array(result[1], "augment()[1]", shape=(5 * len(X),))
    check(checks, "dtype kept", f"{call}[0].dtype", lambda: str(X_aug.dtype), str(X.dtype))
    check(checks, "originals and four one-pixel shifts, each with its label", call,
          lambda: _augment_difference(X_aug.astype(X.dtype), y_aug, expected_X, np.tile(y, 5)),
          Property("the 40 originals and their shifts by one pixel right, left, down and up, each row with its "
                   "image's label (in any order)", lambda missing: missing == 0))
    credit.checks(checks)


def _augment_difference(X_aug, y_aug, expected_X, expected_y) -> int:
    """Expected (row, label) pairs missing from what augment returned (0 when all are there)."""
    missing = _rows_with_labels(expected_X, expected_y) - _rows_with_labels(X_aug, y_aug)
    count = sum(missing.values())
    if count:
        raise AssertionError(f"{count} of {len(expected_y)} expected (image, label) rows are missing (an image "
                             "shifted the wrong way, a label not repeated with its image, or the originals left out)")
    return count


@pytest.mark.question("ex2_augmentation.accuracy")
def test_augmented_accuracy(submission, data, profile, question, band, reference, credit):
    X_train, y_train, X_test, y_test = _mnist_full_split(data)
    ex2 = submission.module("ex2_augmentation")

    def fit(model):
        augmented = ex2.augment(X_train, y_train, keep=True)  # 5N rows stay in the worker
        X_aug, y_aug = augmented.item(0, keep=True), augmented.item(1, keep=True)
        if not (X_aug.isinstance_of("ndarray") and y_aug.isinstance_of("ndarray")):
            raise InvalidOutput("augment(X_train, y_train) returned Python lists, not numpy arrays; the contract asks "
                                "for arrays (see ex2_augmentation.augment's check 'returns numpy arrays')")
        shape = X_aug.get("shape")
        assert tuple(shape) == (5 * len(X_train), 784), f"augment(X_train) has shape {tuple(shape)}; expected (5N, 784)"
        model.call("fit", X_aug, y_aug)

    def _reference_ex2():
        return _reference("ex2_augmentation")

    _grade_digit_model(
        question, band, profile, reference, credit, build=ex2.build_model, fit=fit, X_train=X_train,
        y_train=y_train, X_test=X_test, y_test=y_test, key=f"ex2_augmentation.accuracy/perturbed/{PERTURB_SEED}",
        reference_predict=lambda X: _reference_ex2().build_model().fit(*_reference_ex2().augment(X_train, y_train))
        .predict(X))


@pytest.mark.question("ex3_titanic.accuracy")
def test_titanic_accuracy(submission, data, question, band, reference, credit):
    titanic = data.titanic
    X_train, y_train = titanic.train.drop(columns="Survived"), titanic.train["Survived"].to_numpy()
    X_test, y_test = titanic.test, np.asarray(titanic.test_labels)
    cv = question.cross_validation
    folds = titanic_folds(X_train, y_train, cv, TITANIC_CV_SEED)
    ex3 = submission.module("ex3_titanic")

    def student(X_fit, y_fit, X_new):
        return fit_predict(ex3.build_pipeline(), "build_pipeline()", X_fit, y_fit, X_new, (0, 1))

    def student_in_fresh_worker(X_fit, y_fit, X_new):
        # Each fold's training set holds the other folds' passengers with their true labels: state
        # kept by the module (a dict filled in fit) must not reach a later fold's predictions.
        submission.restart("ex3_titanic")
        return student(X_fit, y_fit, X_new)

    def book(X_fit, y_fit, X_new):
        return _reference("ex3_titanic").build_pipeline().fit(X_fit, y_fit).predict(X_new)

    shuffled_labels = np.random.default_rng(SEED).permutation(y_train)
    shuffled = titanic_figure(student, X_train, y_train, X_test, y_test, folds, cv.repeats, labels=shuffled_labels)
    figure = titanic_figure(student_in_fresh_worker, X_train, y_train, X_test, y_test, folds, cv.repeats)
    expected = _reference_figure(reference, band, f"ex3_titanic.accuracy/cv{cv.folds}x{cv.repeats}/{TITANIC_CV_SEED}",
                                 lambda: titanic_figure(book, X_train, y_train, X_test, y_test, folds,
                                                        cv.repeats)["combined"])
    resolved = band.resolve(expected)
    limit = shuffled_label_limit(question, resolved)
    credit.measure("shuffled_labels", {"accuracy": shuffled["combined"], "limit": limit, "rows": len(y_train)})
    test_predicted = figure.pop("test_predicted")
    shuffled.pop("test_predicted")
    credit.measure("figures", figure)
    where = (f"{figure['n']:,} passengers: {figure['n_cross_validation']} training passengers out of fold "
             f"({cv.folds}-fold x {cv.repeats}, fitted on the other folds) and {figure['n_test']} hidden test "
             f"passengers (fitted on all {len(X_train)})")
    credit.band(f"accuracy over {figure['n']:,} passengers", figure["combined"], resolved, n=figure["n"],
                reference=expected)  # recorded before the integrity verdict: rescoring can apply changed limits
    assert passes_shuffled_check(shuffled["combined"], question, resolved), (
        f"accuracy not counted: after training on shuffled labels the model still scores "
        f"{shuffled['combined']:.3f} over {where} (limit {limit:.3f}; predicting the majority class scores about "
        "0.62). These predictions do not come from the training data, so this question scores 0.")
    credit.note(f"that is {where}; out-of-fold accuracy {figure['cross_validation']:.4f}, hidden test accuracy "
                f"{figure['test']:.4f} ({round(figure['test'] * figure['n_test'])}/{figure['n_test']})")
    credit.measure("confusion_matrix", confusion_counts(y_test, test_predicted, (0, 1)))
    credit.note(f"accuracy after training on shuffled labels: {shuffled['combined']:.3f} (flagged above {limit:.3f})")


CRAFTED = [
    b"Subject: x\n\nWIN money NOW at http://spam.example.com/x 1000 times!!\n",
    b"Content-Type: text/html\n\n<p>Cheap <a href='http://a.b'>pills</a> 25 dollars</p>\n",
    b"Subject: meeting\n\nSee you at the meeting, the meeting is at 10.\n",
]


#: Why the book's counter leaves URLs alone when graded: said where its code uses urlextract.
URLEXTRACT_CAUSE = ("; likely cause: urlextract cannot run where your code is graded (it downloads its list of "
                    "domain names and graded code has no network), so the book's `url_extractor` is None and URLs "
                    "stay as they are: find URLs with a regular expression instead")


def _module_text(submission, module: str) -> str:
    """The graded module's source as submitted (empty when it cannot be read)."""
    try:
        return (submission.directory / f"{module}.py").read_text(errors="replace")
    except (OSError, AttributeError):
        return ""


@pytest.mark.question("ex4_spam.transformers")
def test_transformers(submission, credit):
    """Each transformer is checked on its own input: the counter gets emails the grader parsed (the form
    the book's counter takes and the contract allows; raw bytes when parsed ones raise), the vectorizer
    gets the reference's word counts as ``Counter`` objects, never the student's counter's output."""
    spam = submission.module("ex4_spam")
    checks = []
    state = {}

    def counters():
        """The student's counters for CRAFTED, computed once (a failure is every counter check's detail)."""
        if "counters" not in state:
            try:
                counter = as_remote(spam.EmailToWordCounter(), "EmailToWordCounter()", "TransformerMixin")
                parsed = [parsed_email(submission, "ex4_spam", raw) for raw in CRAFTED]
                try:
                    state["counters"] = counter.call("fit_transform", parsed, keep=True)
                except StudentCodeError as on_parsed:  # a counter for raw bytes only: the contract allows both
                    try:
                        state["counters"] = counter.call("fit_transform", CRAFTED, keep=True)
                    except StudentCodeError:
                        raise on_parsed from None  # the error on the form the book and the contract share
            except Exception as exc:
                state["counters"] = exc
        if isinstance(state["counters"], Exception):
            raise state["counters"]
        return state["counters"]

    def counts(i):
        return dict(counters().item(i, keep=True).call("most_common"))

    call = "EmailToWordCounter().fit_transform(CRAFTED)"
    check(checks, "one Counter per email", f"len({call})", lambda: counters().call("__len__"), len(CRAFTED))
    check(checks, "URLs become 'url'", f"{call}[0]['url']", lambda: counts(0).get("url"), 1)
    if not checks[-1].passed and "urlextract" in _module_text(submission, "ex4_spam"):
        checks[-1] = checks[-1]._replace(detail=checks[-1].detail + URLEXTRACT_CAUSE)
    check(checks, "numbers become 'number'", f"{call}[0]['number']", lambda: counts(0).get("number"), 1)
    check(checks, "lower case, no punctuation", f"{call}[0]", lambda: counts(0),
          Property("'win' among the words, none upper case or with '!'", lambda words: "win" in words and not any(
              "!" in w or w != w.lower() for w in words)))
    check(checks, "words counted and stemmed", f"{call}[2]['meet'] ('meeting' twice)", lambda: counts(2).get("meet"), 2)

    reference_counts = [dict(c) for c in _reference("ex4_spam").EmailToWordCounter().fit_transform(CRAFTED)]

    def vector_checks():
        vectorizer = as_remote(spam.WordCounterToVector(vocabulary_size=4), "WordCounterToVector()",
                               "TransformerMixin")
        given = [in_worker(submission, "ex4_spam", "collections", "Counter", c, what="Counter()")
                 for c in reference_counts]
        vectorizer.call("fit", given)
        matrix = as_array(vectorizer.call("transform", given, keep=True).call("toarray"), "transform()",
                          shape=(3, 5))
        total = sum(sum(c.values()) for c in reference_counts)
        vocabulary = len(vectorizer.get("vocabulary_"))
        assert matrix.sum() == total, f"its entries add up to {matrix.sum()}, not the {total} words counted"
        assert vocabulary == 4, f"vocabulary_ holds {vocabulary} words, not vocabulary_size=4"
        return True

    check(checks, "vectors: (n_emails, vocabulary_size + 1), column 0 counts the rest",
          "WordCounterToVector(vocabulary_size=4).fit(C).transform(C), C: the reference's Counters for CRAFTED",
          vector_checks,
          Property("a (3, 5) matrix whose entries add up to every word counted, and a vocabulary_ of 4 words",
                   bool))
    credit.checks(checks)


def rewrite_email(raw: bytes, seed) -> bytes:
    """The email as a bag-of-words filter reads it, less one line, in other bytes: new Message-ID and
    Date, no Received headers, the subject's words in another order (one left out of three or more),
    one line with letters left out of a single-part body, a blank line more at the end.
    Deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    newline = b"\r\n" if b"\r\n" in raw[:2000] else b"\n"
    head, sep, body = raw.partition(newline * 2)
    if not sep:
        return raw + newline
    kept, dropping, multipart = [], False, False
    for line in head.split(newline):
        if line[:1] in (b" ", b"\t"):  # a folded header's continuation
            if not dropping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower()
        dropping = name in REWRITTEN_HEADERS
        multipart |= name == b"content-type" and b"multipart" in line.lower()
        if name == b"subject" and b"=?" not in line:  # its words in another order, one left out
            words = line.split(b":", 1)[1].split()
            order = [int(i) for i in rng.permutation(len(words))]
            words = [words[i] for i in order][:len(words) - 1 if len(words) >= 3 else None]
            line = b"Subject: " + b" ".join(words)
        if not dropping:
            kept.append(line)
    token = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), 16))
    day, hour, minute = (int(v) for v in (rng.integers(1, 28), rng.integers(0, 24), rng.integers(0, 60)))
    kept += [f"Message-ID: <{token}@mail.example.org>".encode(),
             f"Date: Mon, {day:02d} Feb 2003 {hour:02d}:{minute:02d}:00 +0000".encode()]
    lines = body.split(newline)
    worded = [i for i, line in enumerate(lines) if sum(ch.isalpha() for ch in line.decode("latin-1")) >= 3]
    if not multipart and len(worded) >= 2:
        del lines[int(rng.choice(worded))]
    return newline.join(kept) + newline * 2 + newline.join(lines) + newline


def _spam_scores(submission, data, reference, memo):
    """Mean precision and recall over hidden splits, for the student's and the reference pipeline,
    and each one's accuracy on the test emails and on their rewritten copies."""
    from sklearn.metrics import precision_score
    from sklearn.metrics import recall_score
    from sklearn.model_selection import StratifiedShuffleSplit
    if "spam" in memo:
        if isinstance(memo["spam"], Exception):
            raise memo["spam"]
        return memo["spam"]
    corpus = data.spam
    emails = corpus.easy_ham + corpus.spam
    y = np.array([0] * len(corpus.easy_ham) + [1] * len(corpus.spam))
    splits = list(StratifiedShuffleSplit(SPAM_SPLITS, test_size=0.2, random_state=SEED).split(emails, y))
    rewritten = {}

    def run(build):
        """Mean precision and recall over the splits, the distinct emails behind each, and the accuracy
        on the test emails beside that on their rewritten copies (predicted in the same call).

        The splits' test sets overlap, so the standard error counts each email once: the
        distinct emails flagged spam (precision) and the distinct spams tested (recall).
        """
        precisions, recalls, flagged, positives = [], [], set(), set()
        right = right_rewritten = changed = rows = 0
        for k, (train, test) in enumerate(splits):
            for i in test:
                if i not in rewritten:
                    rewritten[i] = rewrite_email(emails[i], [REWRITE_SEED, int(i)])
            batch = [emails[i] for i in test] + [rewritten[i] for i in test]
            order = np.random.default_rng([REWRITE_SEED, k]).permutation(len(batch))
            mixed = np.asarray(build([emails[i] for i in train], y[train], [batch[j] for j in order]))
            both = np.empty_like(mixed)
            both[order] = mixed
            predicted, on_rewritten = both[:len(test)], both[len(test):]
            right += int(np.sum(predicted == y[test]))
            right_rewritten += int(np.sum(on_rewritten == y[test]))
            changed += int(np.sum(predicted != on_rewritten))
            rows += len(test)
            memo.setdefault(f"spam-wrong/{build.__name__}", []).extend(test[predicted != y[test]].tolist())
            memo[f"spam-cm/{build.__name__}"] = np.add(memo.get(f"spam-cm/{build.__name__}", 0),
                                                       confusion_counts(y[test], predicted, (0, 1)))
            precisions.append(precision_score(y[test], predicted, zero_division=0))
            recalls.append(recall_score(y[test], predicted, zero_division=0))
            flagged.update(test[predicted == 1].tolist())
            positives.update(test[y[test] == 1].tolist())
        figures = {"original": right / rows, "rewritten": right_rewritten / rows, "changed": changed / rows,
                   "rows": rows}
        return float(np.mean(precisions)), float(np.mean(recalls)), len(flagged), len(positives), figures

    def student(train, y_train, test):
        # A fresh worker per split: one split's training set holds another's test emails, and a
        # module-level dict filled in fit() would carry their labels over.
        submission.restart("ex4_spam")
        return fit_predict(submission.module("ex4_spam").build_pipeline(), "build_pipeline()", train, y_train,
                           test, allowed=(0, 1))

    def book(train, y_train, test):
        return _reference("ex4_spam").build_pipeline().fit(train, y_train).predict(test)

    try:
        mine = run(student)
        references = {}

        def book_run():
            references.setdefault("run", run(book))
            return references["run"]

        scores = {"student": mine[:4],
                  "reference": tuple(reference.get(f"ex4_spam/v3/{SEED}", lambda: book_run()[:4])),
                  "rewritten": _rewrite_figures(mine[4], reference.get(
                      f"ex4_spam/rewritten/v2/{SEED}/{REWRITE_SEED}", lambda: book_run()[4]))}
    except (StudentCodeError, InvalidOutput) as exc:
        memo["spam"] = exc
        raise
    memo["spam"] = scores
    return scores


def _rewrite_figures(student: dict, reference_figures: dict) -> dict:
    """The student's accuracy drop on rewritten emails beside the reference's on the same copies; the
    standard error of the difference is taken as sqrt((share of the student's answers changed + share
    of the reference's changed) / rows), as for the shifted images."""
    drop = student["original"] - student["rewritten"]
    reference_drop = reference_figures["original"] - reference_figures["rewritten"]
    return {**student, "drop": drop, "reference_drop": reference_drop, "excess": drop - reference_drop,
            "se": float(np.sqrt((student["changed"] + reference_figures["changed"]) / student["rows"]))}


def _spam_integrity(credit, scores) -> None:
    """Record the rewritten-email figures, then fail the question if the model recognised the exact
    public emails (recorded first, so that rescoring can apply a changed limit)."""
    figures = scores["rewritten"]
    limit = rewrite_excess_limit(figures["se"])
    credit.measure("rewritten_emails", {**figures, "limit": limit})
    assert passes_rewrite_check(figures["excess"], figures["se"]), (
        f"not counted: on {figures['rows']:,} test emails (over the {SPAM_SPLITS} splits) the model is right "
        f"{figures['original']:.4f} of the time as published but {figures['rewritten']:.4f} on the same emails "
        f"rewritten (new Message-ID and Date, no Received headers, the subject's words reordered, one line "
        "of text left out), while the "
        f"reference pipeline's accuracy falls by {figures['reference_drop']:.4f} on the same copies: "
        f"{figures['excess']:.4f} more (limit {limit:.4f}, three standard errors). A filter that reads the words "
        "hardly notices; this one recognises the exact public emails (for example a table of their labels), "
        "so this question scores 0.")


def _band_spam(credit, band, scores, metric, index):
    """Standard error from the distinct emails: flagged ones for precision, actual spams for recall."""
    value, expected = scores["student"][index], scores["reference"][index]
    counted = scores["student"][2 + index]
    credit.band(f"mean {metric} over {SPAM_SPLITS} hidden splits", value, band.resolve(expected),
                se=proportion_se(value, counted) if counted else None, reference=expected)


@pytest.mark.question("ex4_spam.precision")
def test_spam_precision(submission, data, band, reference, memo, credit):
    scores = _spam_scores(submission, data, reference, memo)
    _band_spam(credit, band, scores, "precision", 0)
    _spam_integrity(credit, scores)
    credit.measure("misclassified_emails", misclassified_emails(data.spam, memo["spam-wrong/student"], spam=False))
    credit.measure("confusion_matrix", np.asarray(memo["spam-cm/student"]).tolist())  # pooled over the splits


@pytest.mark.question("ex4_spam.recall")
def test_spam_recall(submission, data, band, reference, memo, credit):
    scores = _spam_scores(submission, data, reference, memo)
    _band_spam(credit, band, scores, "recall", 1)
    _spam_integrity(credit, scores)
    credit.measure("misclassified_emails", misclassified_emails(data.spam, memo["spam-wrong/student"], spam=True))
