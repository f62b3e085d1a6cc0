"""Exercise 4: a spam classifier on the SpamAssassin corpus.

Load raw emails with ``autograder.data.load_spam("full")`` (bytes; the data kit's public
corpus; the student bundle's quick sample has no categories, ``corpus.unlabelled``). Parse them
with the ``email`` package, turn each into a bag of words, and train a
classifier. Nothing may be downloaded at run time: NLTK's ``PorterStemmer``
works offline; find URLs with a regular expression.

What the grader checks: ``parse_email`` and ``email_to_text`` on crafted emails
(plain, HTML, multipart, odd encodings), the transformers' output shapes, and
precision and recall of ``build_pipeline()`` averaged over 5 stratified 80/20
splits of easy_ham + spam with hidden seeds, each split in a fresh process (no
state carries from one split to the next): full marks when both are at least those
of the book's pipeline on the same splits minus one to two standard errors (one
spam email moves one split's precision by about one point).
"""

from sklearn.base import BaseEstimator, TransformerMixin


def parse_email(raw):
    """Parse one raw email.

    Parameters
    ----------
    raw : bytes

    Returns
    -------
    email.message.EmailMessage
        Parsed with ``policy=email.policy.default``.

    Raises
    ------
    TypeError if ``raw`` is not bytes. Malformed emails must still parse.
    """
    raise NotImplementedError("parse_email")


def email_to_text(message):
    """The readable text of an email.

    The first text/plain part; if there is none, the first text/html part
    converted to plain text (drop the <head>, replace links by " HYPERLINK ",
    strip tags, unescape entities like &amp;); "" if there is neither.

    Pitfall: ``part.get_content()`` raises on unknown charsets; fall back to the
    decoded payload.
    """
    raise NotImplementedError("email_to_text")


class EmailToWordCounter(TransformerMixin, BaseEstimator):
    """Emails (raw bytes or parsed) -> one ``collections.Counter`` of words each.

    Parameters (store them unchanged in ``__init__``)
    ----------
    strip_headers : bool, default True   (False: include the header lines in the text)
    lower_case : bool, default True
    remove_punctuation : bool, default True
    replace_urls : bool, default True    (each URL becomes the word "URL")
    replace_numbers : bool, default True (each number becomes "NUMBER")
    stemming : bool, default True        (NLTK's PorterStemmer)

    ``transform(X)`` returns a 1-D object array of Counters, one per email.
    """

    def __init__(self, strip_headers=True, lower_case=True, remove_punctuation=True,
                 replace_urls=True, replace_numbers=True, stemming=True):
        self.strip_headers = strip_headers
        self.lower_case = lower_case
        self.remove_punctuation = remove_punctuation
        self.replace_urls = replace_urls
        self.replace_numbers = replace_numbers
        self.stemming = stemming

    def fit(self, X, y=None):
        raise NotImplementedError("EmailToWordCounter.fit")

    def transform(self, X):
        raise NotImplementedError("EmailToWordCounter.transform")


class WordCounterToVector(TransformerMixin, BaseEstimator):
    """Counters -> sparse matrix of word counts.

    ``fit`` keeps the ``vocabulary_size`` most common words in ``vocabulary_``
    (word -> column 1..vocabulary_size); ``transform`` returns a
    ``scipy.sparse`` matrix of shape (n_emails, vocabulary_size + 1) whose
    column 0 counts the words outside the vocabulary.
    """

    def __init__(self, vocabulary_size=1000):
        self.vocabulary_size = vocabulary_size

    def fit(self, X, y=None):
        raise NotImplementedError("WordCounterToVector.fit")

    def transform(self, X):
        raise NotImplementedError("WordCounterToVector.transform")


def build_pipeline():
    """The UNFITTED pipeline: list of raw emails (bytes) in, 1 for spam / 0 for ham out."""
    raise NotImplementedError("build_pipeline")
