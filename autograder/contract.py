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

#: Names (variables, functions called) that the book's top-level code for a contract name uses:
#: where a notebook computes a missing name at top level instead of defining it.
TOP_LEVEL_CLUES: dict[str, tuple[str, ...]] = {
    "split_train_test": ("X_train", "X_test"),
    "plot_digit": ("imshow", "some_digit_image"),
    "plot_digits": ("imshow", "example_images"),
    "make_binary_target": ("y_train_5", "y_test_5"),
    "train_sgd": ("SGDClassifier",),
    "manual_cross_val_score": ("StratifiedKFold", "skfolds"),
    "NeverClassifier": ("DummyClassifier",),
    "binary_confusion_matrix": ("confusion_matrix",),
    "precision": ("precision_score",),
    "recall": ("recall_score",),
    "f1": ("f1_score",),
    "threshold_for_precision": ("precision_recall_curve", "threshold_for_90_precision", "threshold_90_precision"),
    "predict_at_threshold": ("y_train_pred_90", "y_some_digit_pred"),
    "roc_points": ("roc_curve",),
    "auc": ("roc_auc_score",),
    "forest_positive_scores": ("RandomForestClassifier", "y_probas_forest", "y_scores_forest"),
    "plot_roc": ("roc_curve",),
    "train_svc": ("SVC",),
    "train_ovr_svc": ("OneVsRestClassifier", "ovr_clf"),
    "scaled_sgd": ("StandardScaler", "X_train_scaled"),
    "normalize_confusion": ("norm_conf_mx", "row_sums"),
    "errors_only": ("fill_diagonal",),
    "plot_confusion": ("ConfusionMatrixDisplay", "matshow"),
    "large_odd_targets": ("y_train_large", "y_train_odd", "y_multilabel"),
    "build_multilabel_model": ("y_multilabel",),
    "average_f1": ("f1_score",),
    "build_chain": ("ClassifierChain",),
    "add_noise": ("noise", "X_train_mod"),
    "build_denoiser": ("y_train_mod", "clean_digit"),
    "param_grid": ("param_grid",),
    "tune": ("GridSearchCV", "grid_search"),
    "augment": ("X_train_augmented", "shift_image"),
    "build_pipeline": ("Pipeline", "make_pipeline"),
    "parse_email": ("BytesParser", "message_from_bytes", "load_email"),
    "email_to_text": ("html_to_plain_text",),
}
