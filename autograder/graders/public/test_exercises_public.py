"""Public graders of the four exercises: contracts on the embedded sample."""

import pytest

from autograder.graders.common import Property, check, fit_predict, parsed_email
from autograder.graders.explain import param_grid_of
from autograder.judge.validate import as_remote

# Crafted emails: the corpus's oddities in miniature.
PLAIN = b"From: a@b.com\nSubject: hi\n\nHello world, see you at 10.\n"
HTML = (b"From: a@b.com\nContent-Type: text/html\n\n<html><head><title>secret</title></head>"
        b"<body><a href='http://x.org'>click</a> Tom &amp; Jerry</body></html>")
MULTIPART = (b"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=XX\n\n--XX\n"
             b"Content-Type: text/html\n\n<b>bold</b>\n--XX\nContent-Type: text/plain\n\nplain part\n--XX--\n")
LATIN1 = "Content-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9 cr\xe8me\n".encode("latin-1")


@pytest.mark.question("ex1_knn97.grid")
def test_param_grid(submission):
    grids = param_grid_of(submission.module("ex1_knn97"))
    assert grids and all(isinstance(g, dict) for g in grids), "param_grid() should return a dict or a list of dicts"
    keys = set().union(*grids)
    # "n_neighbors" on a bare KNeighborsClassifier, "<step>__n_neighbors" on its step in a pipeline
    searched = {key.rsplit("__", 1)[-1] for key in keys}
    missing = sorted({"weights", "n_neighbors"} - searched)
    assert not missing, (f"the grid searches {sorted(keys)}, not {' or '.join(missing)}; search the KNN's weights "
                         "and n_neighbors (as 'knn__n_neighbors' if the KNN is a pipeline step named 'knn')")


@pytest.mark.question("ex3_titanic.contract")
def test_titanic_contract(submission, data):
    titanic = data.titanic
    pipeline = submission.module("ex3_titanic").build_pipeline()
    predictions = fit_predict(pipeline, "ex3_titanic.build_pipeline()", titanic.train.drop(columns="Survived"),
                              titanic.train["Survived"].to_numpy(), titanic.test, allowed=(0, 1))
    assert len(predictions) == len(titanic.test)


#: What each crafted email's text must satisfy.
PARSING_TESTS = {
    "plain text": lambda t: "Hello world" in t,
    "HTML: links, entities, no tags, no <head>": lambda t: ("HYPERLINK" in t and "Tom & Jerry" in t and "<" not in t
                                                           and "secret" not in t),
    "multipart: the text/plain part": lambda t: "plain part" in t,
    "latin-1 charset": lambda t: "café crème" in t,
}


#: The content type parse_email must keep for each crafted email (its MIME structure, not only its text).
PARSED_TYPES = {"PLAIN": "text/plain", "HTML": "text/html", "MULTIPART": "multipart/alternative"}


@pytest.mark.question("ex4_spam.parsing")
def test_parsing(submission, credit):
    """parse_email and email_to_text are checked apart: email_to_text gets emails the grader parsed
    itself (as the reference does), so a missing or differently named parse_email costs only its own
    checks (and the other way round)."""
    spam = submission.module("ex4_spam")
    checks = []
    raws = {"PLAIN": PLAIN, "HTML": HTML, "MULTIPART": MULTIPART, "LATIN1": LATIN1}

    def content_type(label):
        message = as_remote(spam.parse_email(raws[label], keep=True), "parse_email()", "email.message.Message")
        return message.call("get_content_type")

    for label, wanted in PARSED_TYPES.items():
        check(checks, f"parse_email keeps the {wanted} structure", f"ex4_spam.parse_email({label}).get_content_type()",
              lambda label=label: content_type(label), wanted, group="parse_email")

    def text_of(label):
        text = spam.email_to_text(parsed_email(submission, "ex4_spam", raws[label]))
        assert isinstance(text, str), f"email_to_text() returned a {type(text).__name__}; expected a str"
        return text

    for name, label, wanted in (
            ("plain text", "PLAIN", "text containing 'Hello world'"),
            ("HTML: links, entities, no tags, no <head>", "HTML",
             "'HYPERLINK' for the link, 'Tom & Jerry' unescaped, no '<' and no <head> text ('secret')"),
            ("multipart: the text/plain part", "MULTIPART", "text containing 'plain part'"),
            ("latin-1 charset", "LATIN1", "text containing 'café crème'")):
        check(checks, name, f"ex4_spam.email_to_text(<{label} parsed by the grader>)", lambda label=label: text_of(label),
              Property(wanted, lambda text, name=name: PARSING_TESTS[name](text)), group="email_to_text")
    credit.checks(checks)
