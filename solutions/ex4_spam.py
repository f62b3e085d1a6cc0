"""Reference solution, exercise 4: a SpamAssassin spam classifier (the book's pipeline, offline).

Two choices differ from the book, both so that nothing is downloaded at run time:
URLs are found with a regular expression (``urlextract`` refreshes its list of
top-level domains over the network), and stemming uses NLTK's ``PorterStemmer``,
which is plain code and needs no NLTK data package.
"""

import email
import email.policy
import functools
import numbers
import re
from collections import Counter
from html import unescape

import numpy as np
from nltk.stem import PorterStemmer
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

URL = re.compile(
    r"""(?:(?:https?|ftp)://|www\d{0,3}\.)[^\s<>"']+"""            # scheme or www.
    r"""|\b[\w.-]+\.(?:com|net|org|edu|gov|biz|info|us|uk|de|fr|ca|au|ru|jp|cn)\b(?:/[^\s<>"']*)?""",
    flags=re.I,
)
NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?")
# Stemming is the slow step and the vocabulary repeats: memoise it.
_stem = functools.lru_cache(maxsize=200_000)(PorterStemmer().stem)


def parse_email(raw):
    """Parse raw bytes into an ``email.message.EmailMessage`` (never raises on odd messages)."""
    if not isinstance(raw, (bytes, bytearray)):
        raise TypeError(f"'raw' must be bytes; got {type(raw).__name__}.")
    return email.message_from_bytes(bytes(raw), policy=email.policy.default)


def _part_text(part):
    try:
        return part.get_content()
    except Exception:  # unknown charset, broken transfer encoding, ...
        payload = part.get_payload(decode=True) or b""
        return payload.decode("latin-1", errors="replace") if isinstance(payload, bytes) else str(payload)


def html_to_plain_text(html):
    """Drop the head, mark links as HYPERLINK, strip tags, unescape entities."""
    text = re.sub(r"<head.*?>.*?</head>", "", html, flags=re.M | re.S | re.I)
    text = re.sub(r"<a\s.*?>", " HYPERLINK ", text, flags=re.M | re.S | re.I)
    text = re.sub(r"<.*?>", "", text, flags=re.M | re.S)
    text = re.sub(r"(\s*\n)+", "\n", text, flags=re.M | re.S)
    return unescape(text)


def email_to_text(message):
    """The first text/plain part, else the first text/html part as plain text, else ""."""
    if isinstance(message, (bytes, bytearray)):
        message = parse_email(message)
    html = None
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return str(_part_text(part))
        if ctype == "text/html" and html is None:
            html = str(_part_text(part))
    return html_to_plain_text(html) if html else ""


def _headers_text(message):
    return "\n".join(f"{name} {value}" for name, value in message.items())


class EmailToWordCounter(TransformerMixin, BaseEstimator):
    """Raw emails (bytes or parsed) -> one ``collections.Counter`` of words per email."""

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

    def _counts(self, message):
        message = parse_email(message) if isinstance(message, (bytes, bytearray)) else message
        text = email_to_text(message)
        if not self.strip_headers:
            text = _headers_text(message) + "\n" + text
        if self.lower_case:
            text = text.lower()
        if self.replace_urls:
            text = URL.sub(" URL ", text)
        if self.replace_numbers:
            text = NUMBER.sub("NUMBER", text)
        if self.remove_punctuation:
            text = re.sub(r"\W+", " ", text, flags=re.M)
        counts = Counter(text.split())
        if self.stemming:
            stemmed = Counter()
            for word, count in counts.items():
                stemmed[_stem(word)] += count
            counts = stemmed
        return counts

    def transform(self, X):
        out = np.empty(len(X), dtype=object)
        out[:] = [self._counts(message) for message in X]
        return out


class WordCounterToVector(TransformerMixin, BaseEstimator):
    """Word counters -> sparse counts over the ``vocabulary_size`` most common words (column 0: others)."""

    def __init__(self, vocabulary_size=1000):
        self.vocabulary_size = vocabulary_size

    def fit(self, X, y=None):
        size = _check_int(self.vocabulary_size, "vocabulary_size", low=1)
        total = Counter()
        for counts in X:
            for word, count in counts.items():
                total[word] += min(count, 10)  # one email cannot dominate the vocabulary
        self.vocabulary_ = {word: i + 1 for i, (word, _) in enumerate(total.most_common(size))}
        return self

    def transform(self, X):
        rows, cols, data = [], [], []
        for row, counts in enumerate(X):
            for word, count in counts.items():
                rows.append(row)
                cols.append(self.vocabulary_.get(word, 0))
                data.append(count)
        return csr_matrix((data, (rows, cols)), shape=(len(X), self.vocabulary_size + 1))


def build_pipeline():
    """Words -> counts -> vector -> ``LogisticRegression(max_iter=1000, random_state=42)``."""
    return Pipeline([
        ("counter", EmailToWordCounter()),
        ("vectorizer", WordCounterToVector()),
        ("classifier", LogisticRegression(max_iter=1000, random_state=42)),
    ])


# ------------------------------------------------------------ input checks
# Each module stands alone, as a student's submitted file does; every message names the argument.


def _check_int(value, name: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"'{name}' must be an int; got {type(value).__name__}.")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"'{name}' must be in [{low}, {high}]; got {value}.")
    return int(value)
