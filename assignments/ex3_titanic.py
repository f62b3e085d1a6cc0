"""Exercise 3: predict who survived the Titanic.

Load the data with ``autograder.data.load_titanic("quick")``: ``train`` has the
Kaggle columns (PassengerId, Survived, Pclass, Name, Sex, Age, SibSp, Parch,
Ticket, Fare, Cabin, Embarked), ``test`` the same without Survived.

Build a pipeline that takes such a DataFrame as it is (missing values
included): a ``ColumnTransformer`` with ``SimpleImputer`` and ``StandardScaler``
for the numbers and an imputer plus ``OneHotEncoder`` for the categories, then
a classifier. Compare a few with ``cross_val_score`` on the training set.

What the grader checks: it fits ``build_pipeline()`` itself and scores accuracy
over 1,307 passengers: the 889 training passengers with known port, each predicted
by a model fitted on the other folds of its own repeated stratified 5-fold split
(hidden seeds), and the 418 test passengers with Kaggle's hidden labels (fitted on
all 891). One standard error is about 0.011 (0.020 on the 418 test passengers
alone). Full marks at >= 0.798 (the book's SVC scores 0.811), zero at 0.776; the
"all women survive" rule scores 0.780 and the majority class 0.619. It also trains
your pipeline on shuffled labels: a rule that ignores its training labels scores
the same there and gets 0.
"""


def build_pipeline():
    """The UNFITTED pipeline: DataFrame of Kaggle columns in, Survived (0/1) out."""
    raise NotImplementedError("build_pipeline")
