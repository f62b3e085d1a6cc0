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
CLASSES = {"NeverClassifier", "EmailToWordCounter", "WordCounterToVector"}
