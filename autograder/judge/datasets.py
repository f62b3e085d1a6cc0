"""The grader's data for one run: features for the worker, labels kept here."""

from __future__ import annotations

from functools import cached_property

from autograder.data import load_mnist, load_spam, load_titanic


class GradingData:
    """Datasets of one profile, loaded on first use (a run that grades only confusion loads nothing)."""

    def __init__(self, profile: str, data_dir=None):
        self.profile, self.data_dir = profile, data_dir

    @cached_property
    def mnist(self):
        return load_mnist(self.profile, data_dir=self.data_dir)

    @cached_property
    def titanic(self):
        return load_titanic(self.profile, data_dir=self.data_dir)

    @cached_property
    def spam(self):
        return load_spam(self.profile, data_dir=self.data_dir)
