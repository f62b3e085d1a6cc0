"""The assignment's contract: module -> public names, the same in ``assignments`` and ``solutions``.

Students, graders and instructors depend on these names; ``tests/test_contract.py``
walks this table, so a renamed or missing function is caught in both packages.
"""

CONTRACT: dict[str, tuple[str, ...]] = {
    "mnist": ("split_train_test", "plot_digit", "plot_digits"),
    "binary_classifier": ("make_binary_target", "train_sgd"),
    "cross_validation": ("manual_cross_val_score", "NeverClassifier"),
    "confusion": ("binary_confusion_matrix", "precision", "recall", "f1"),
    "tradeoff": ("threshold_for_precision", "predict_at_threshold", "plot_precision_recall_vs_threshold"),
    "roc": ("roc_points", "auc", "forest_positive_scores", "plot_roc"),
    "multiclass": ("train_svc", "train_ovr_svc", "scaled_sgd"),
    "error_analysis": ("normalize_confusion", "errors_only", "top_confusions", "plot_confusion"),
    "multilabel": ("large_odd_targets", "build_multilabel_model", "average_f1", "build_chain"),
    "multioutput": ("add_noise", "build_denoiser"),
    "ex1_knn97": ("build_model", "param_grid", "tune"),
    "ex2_augmentation": ("shift_image", "augment", "build_model"),
    "ex3_titanic": ("build_pipeline",),
    "ex4_spam": ("parse_email", "email_to_text", "EmailToWordCounter", "WordCounterToVector", "build_pipeline"),
}

#: Names that are classes: the stub's methods raise NotImplementedError, not the constructor.
#: Every other contract name is a function (a notebook defines it with ``def``).
CLASSES = {"NeverClassifier", "EmailToWordCounter", "WordCounterToVector"}


def kind_of(name: str) -> str:
    """"class" or "function": how a submission must define contract name ``name``."""
    return "class" if name in CLASSES else "function"

#: The book's names for what the contract asks (both editions' notebooks; the book's
#: ``plot_precision_recall_vs_threshold`` is the contract's own name): a notebook that defines
#: one of these, of the same kind, is graded as defining the contract's name.
BOOK_NAMES: dict[str, str] = {
    "Never5Classifier": "NeverClassifier",
    "EmailToWordCounterTransformer": "EmailToWordCounter",
    "WordCounterToVectorTransformer": "WordCounterToVector",
    "plot_roc_curve": "plot_roc",
}

#: Names the book's top-level code binds (or, for the book's own helpers, calls) where it computes a
#: contract name: where a notebook computes a missing name at top level instead of defining it. Library
#: calls (``Pipeline(``, ``GridSearchCV(``, ``SVC(``) are never clues: every exercise makes them.
TOP_LEVEL_CLUES: dict[str, tuple[str, ...]] = {
    "split_train_test": ("X_train", "X_test"),
    "plot_digit": ("some_digit_image",),
    "plot_digits": ("example_images",),
    "make_binary_target": ("y_train_5", "y_test_5"),
    "train_sgd": ("sgd_clf",),
    "manual_cross_val_score": ("skfolds",),
    "NeverClassifier": ("dummy_clf",),
    "threshold_for_precision": ("threshold_for_90_precision", "threshold_90_precision"),
    "predict_at_threshold": ("y_train_pred_90", "y_some_digit_pred"),
    "roc_points": ("fpr", "tpr"),
    "forest_positive_scores": ("y_probas_forest", "y_scores_forest"),
    "train_svc": ("svm_clf",),
    "train_ovr_svc": ("ovr_clf",),
    "scaled_sgd": ("X_train_scaled",),
    "normalize_confusion": ("norm_conf_mx", "row_sums"),
    "large_odd_targets": ("y_train_large", "y_train_odd", "y_multilabel"),
    "build_multilabel_model": ("y_multilabel",),
    "build_chain": ("chain_clf",),
    "add_noise": ("noise", "X_train_mod"),
    "build_denoiser": ("y_train_mod", "clean_digit"),
    "param_grid": ("param_grid",),
    "tune": ("grid_search",),
    "augment": ("X_train_augmented", "shift_image"),
    "parse_email": ("load_email",),
    "email_to_text": ("html_to_plain_text",),
}

#: The book's functions that do a contract name's job in another form: what differs, in one line.
BOOK_DIFFERENCES: dict[str, tuple[str, str]] = {
    "load_email": ("parse_email", "the book's `load_email(is_spam, filename)` opens a file of the data set; "
                   "`parse_email(raw)` gets the email's bytes: return "
                   "`email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)`"),
    "plot_confusion_matrix": ("plot_confusion", "the book's `plot_confusion_matrix(matrix)` draws a matrix computed "
                              "beforehand; `plot_confusion(y_true, y_pred, ...)` gets the labels: return "
                              "`ConfusionMatrixDisplay.from_predictions(y_true, y_pred, ...).im_`"),
}
