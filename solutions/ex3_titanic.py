"""Reference solution, exercise 3: Titanic survival (the book's SVC pipeline)."""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.svm import SVC

NUMERIC = ["Age", "SibSp", "Parch", "Fare"]
CATEGORICAL = ["Pclass", "Sex", "Embarked"]


def build_pipeline():
    """Impute and scale the numbers, impute and one-hot the categories, then ``SVC(gamma="auto")``.

    Takes the Kaggle columns as a DataFrame; the other columns are dropped.
    """
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    categorical = make_pipeline(OrdinalEncoder(), SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(sparse_output=False))
    features = ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, CATEGORICAL)])
    return Pipeline([("features", features), ("svc", SVC(gamma="auto"))])
