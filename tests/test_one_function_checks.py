"""Checks test one function at a time: a check that needs another contract function's output builds it
itself (the grader parses the email, the reference counts the words), so a missing or differently
named neighbour costs only its own points and the book's own functions are graded on what they do."""

from __future__ import annotations

import pytest

from autograder.grading import grade_path
from submissions import reference_source, write_submission

#: The book's email_to_text and html_to_plain_text (chapter 3 notebook), with the book's load_email in
#: place of parse_email: it reads a file from the dataset's folder, so it is not the contract's parser.
BOOK_TEXT = '''
import email
import email.policy
import re
from html import unescape


def load_email(is_spam, filename, spam_path="datasets/spam"):
    directory = "spam" if is_spam else "easy_ham"
    with open(f"{spam_path}/{directory}/{filename}", "rb") as f:
        return email.parser.BytesParser(policy=email.policy.default).parse(f)


def html_to_plain_text(html):
    text = re.sub('<head.*?>.*?</head>', '', html, flags=re.M | re.S | re.I)
    text = re.sub('<a\\\\s.*?>', ' HYPERLINK ', text, flags=re.M | re.S | re.I)
    text = re.sub('<.*?>', '', text, flags=re.M | re.S)
    text = re.sub(r'(\\s*\\n)+', '\\n', text, flags=re.M | re.S)
    return unescape(text)


def email_to_text(email):
    html = None
    for part in email.walk():
        ctype = part.get_content_type()
        if not ctype in ("text/plain", "text/html"):
            continue
        try:
            content = part.get_content()
        except Exception:  # in case of encoding issues
            content = str(part.get_payload())
        if ctype == "text/plain":
            return content
        else:
            html = content
    if html:
        return html_to_plain_text(html)
'''


def _checks(question):
    return {c["name"]: c["passed"] for c in question.measurements["checks"]}


def test_the_books_email_to_text_earns_its_points_without_parse_email(tmp_path):
    folder = write_submission(tmp_path / "submission", files={"ex4_spam.py": BOOK_TEXT})
    [q] = grade_path(folder, questions=["ex4_spam.parsing"], limits={"timeout": 20}).questions
    checks = _checks(q)
    assert all(passed for name, passed in checks.items() if not name.startswith("parse_email")), checks
    assert not any(passed for name, passed in checks.items() if name.startswith("parse_email")), checks
    # parse_email weighs a quarter of the question (questions.toml); the book's email_to_text the rest
    assert q.points == pytest.approx(3.0), q.feedback
    assert "has no attribute 'parse_email'" in q.feedback


def test_a_missing_email_to_text_costs_only_its_own_checks(tmp_path):
    source = reference_source("ex4_spam").replace("def email_to_text(", "def text_of_email(")
    source = source.replace("text = email_to_text(message)", "text = text_of_email(message)")
    folder = write_submission(tmp_path / "submission", files={"ex4_spam.py": source})
    [q] = grade_path(folder, questions=["ex4_spam.parsing"], limits={"timeout": 20}).questions
    checks = _checks(q)
    assert [name for name, passed in checks.items() if passed] == [n for n in checks if n.startswith("parse_email")]
    assert q.points == pytest.approx(1.0)


#: The book's two transformers: the counter takes parsed emails (it calls email_to_text on each),
#: the vectorizer takes any iterable of Counters.
BOOK_TRANSFORMERS = BOOK_TEXT + '''
from collections import Counter

import numpy as np
from nltk.stem import PorterStemmer
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin

stemmer = PorterStemmer()
URL = re.compile(r"https?://[^\\s]+")


class EmailToWordCounter(BaseEstimator, TransformerMixin):
    def __init__(self, strip_headers=True, lower_case=True, remove_punctuation=True,
                 replace_urls=True, replace_numbers=True, stemming=True):
        self.strip_headers = strip_headers
        self.lower_case = lower_case
        self.remove_punctuation = remove_punctuation
        self.replace_urls = replace_urls
        self.replace_numbers = replace_numbers
        self.stemming = stemming

    def fit(self, X, y=None):
        return self

    def transform(self, X, y=None):
        X_transformed = []
        for email in X:
            text = email_to_text(email) or ""
            if self.lower_case:
                text = text.lower()
            if self.replace_urls:
                text = URL.sub(" URL ", text)
            if self.replace_numbers:
                text = re.sub(r'\\d+(?:\\.\\d*)?(?:[eE][+-]?\\d+)?', 'NUMBER', text)
            if self.remove_punctuation:
                text = re.sub(r'\\W+', ' ', text, flags=re.M)
            word_counts = Counter(text.split())
            if self.stemming and stemmer is not None:
                stemmed_word_counts = Counter()
                for word, count in word_counts.items():
                    stemmed_word_counts[stemmer.stem(word)] += count
                word_counts = stemmed_word_counts
            X_transformed.append(word_counts)
        return np.array(X_transformed)


class WordCounterToVector(BaseEstimator, TransformerMixin):
    def __init__(self, vocabulary_size=1000):
        self.vocabulary_size = vocabulary_size

    def fit(self, X, y=None):
        total_count = Counter()
        for word_count in X:
            for word, count in word_count.items():
                total_count[word] += min(count, 10)
        most_common = total_count.most_common()[:self.vocabulary_size]
        self.vocabulary_ = {word: index + 1 for index, (word, count) in enumerate(most_common)}
        return self

    def transform(self, X, y=None):
        rows, cols, data = [], [], []
        for row, word_count in enumerate(X):
            for word, count in word_count.items():
                rows.append(row)
                cols.append(self.vocabulary_.get(word, 0))
                data.append(count)
        return csr_matrix((data, (rows, cols)), shape=(len(X), self.vocabulary_size + 1))
'''


def test_the_books_transformers_are_graded_on_parsed_emails_and_the_references_counts(tmp_path):
    folder = write_submission(tmp_path / "submission", files={"ex4_spam.py": BOOK_TRANSFORMERS})
    [q] = grade_path(folder, questions=["ex4_spam.transformers"], limits={"timeout": 20}).questions
    assert q.points == q.max_points, q.feedback


def test_a_missing_counter_leaves_the_vectorizer_its_check(tmp_path):
    source = BOOK_TRANSFORMERS.replace("class EmailToWordCounter(", "class EmailToWordCounterTransformer(")
    folder = write_submission(tmp_path / "submission", files={"ex4_spam.py": source})
    [q] = grade_path(folder, questions=["ex4_spam.transformers"], limits={"timeout": 20}).questions
    checks = _checks(q)
    assert [name for name, passed in checks.items() if passed] == [
        "vectors: (n_emails, vocabulary_size + 1), column 0 counts the rest"], checks
    assert 0 < q.points < q.max_points
