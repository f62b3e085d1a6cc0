"""Exercise 3: predict who survived the Titanic.

Load the data with ``autograder.data.load_titanic("quick")``: ``train`` has the
Kaggle columns (PassengerId, Survived, Pclass, Name, Sex, Age, SibSp, Parch,
Ticket, Fare, Cabin, Embarked), ``test`` the same without Survived.

Build a pipeline that takes such a DataFrame as it is (missing values
included): a ``ColumnTransformer`` with ``SimpleImputer`` and ``StandardScaler``
for the numbers and an imputer plus ``OneHotEncoder`` for the categories, then
a classifier. Compare a few with ``cross_val_score`` on the training set.

What the grader checks: it fits ``build_pipeline()`` on the 891 training rows
(the columns above without Survived, which it passes as ``y``) and scores
accuracy on the 418 test passengers with Kaggle's hidden labels.
Full marks at >= 0.775; zero at 0.7656, the "all women survive" baseline. One
standard error on 418 passengers is about 0.02, and cross-validation on train
overestimates the test score (the book's forest: 0.81 CV, 0.758 test).
"""


def build_pipeline():
    """The UNFITTED pipeline: DataFrame of Kaggle columns in, Survived (0/1) out."""
    raise NotImplementedError("build_pipeline")
