"""Similarity across a class: pairs of submissions whose code is near-identical, module by module.

copydetect does the work: it tokenises each file with pygments, replaces every
variable, function and class name by one letter and every string by another, drops
comments and whitespace, fingerprints k-grams and winnows them (Schleimer, Wilkerson
and Aiken, 2003). Renaming, re-commenting and reformatting therefore change nothing.
Code every student received is not evidence: the stub (``assignments/<module>.py``)
and the reference solution (``solutions/<module>.py``, largely the book's own code,
which students may legitimately copy) are given to copydetect as boilerplate, so
their fingerprints are removed before any two students are compared.

A pair is flagged when, for one module, the larger of the two students'
similarity scores (the share of a file's fingerprinted tokens found in the other
file) reaches ``threshold`` and the overlap is at least ``min_tokens`` filtered
characters long (a short file left after removing the boilerplate says little).
The thresholds and the scores measured on ``tests/fixtures/similarity`` are in the
feedback guide (docs/guide/feedback.md). copydetect hashes k-grams with Python's
``hash``, so scores move by a few hundredths with the interpreter's hash seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from autograder.paths import ASSIGNMENTS_DIR, SOLUTIONS_DIR

KNOWN_SOURCES = (ASSIGNMENTS_DIR, SOLUTIONS_DIR)

#: Flag a module pair at or above this similarity (the measured scores are in docs/guide/feedback.md).
THRESHOLD = 0.6
#: k-gram length (copydetect's noise threshold) and the match length always caught (its guarantee).
NOISE_T, GUARANTEE_T = 20, 30
#: The shortest overlap, in filtered characters, that can be evidence.
MIN_TOKENS = 60


@dataclass
class ModuleMatch:
    """One module that two submissions share."""

    module: str
    similarity: tuple[float, float]   # share of each file's fingerprinted code found in the other
    overlap: int                      # overlapping filtered characters
    code: tuple[str, str] = ("", "")  # each file's code as HTML, escaped, shared parts in <span class=hl>

    @property
    def score(self) -> float:
        return max(self.similarity)


@dataclass
class SimilarPair:
    a: str
    b: str
    modules: list[ModuleMatch] = field(default_factory=list)

    @property
    def score(self) -> float:
        return max(m.score for m in self.modules)


def module_scores(files: dict[str, Path], known_sources=(), *, noise_t: int = NOISE_T,
                  guarantee_t: int = GUARANTEE_T, highlight: bool = True) -> list[ModuleMatch | tuple]:
    """Every pair of ``files`` (student id -> one module's file) with copydetect's scores.

    Returns ``[(id_a, id_b, ModuleMatch), ...]`` for every pair that shares any fingerprint.
    """
    from copydetect import CopyDetector
    from copydetect.utils import highlight_overlap

    if len(files) < 2:
        return []
    module = next(iter(files.values())).name
    detector = CopyDetector(noise_t=noise_t, guarantee_t=guarantee_t, display_t=0.0, extensions=["py"],
                            silent=True, autoopen=False)
    ids = sorted(files)
    for student in ids:
        detector.add_file(str(files[student]), type="testref")
    for folder in known_sources:
        if (Path(folder) / module).is_file():
            detector.add_file(str(Path(folder) / module), type="boilerplate")
    logging.getLogger().disabled, was = True, logging.getLogger().disabled  # copydetect logs skipped files
    try:
        detector.run()
    finally:
        logging.getLogger().disabled = was
    if not len(detector.similarity_matrix):
        return []
    index = {path: i for i, path in enumerate(detector.test_files)}
    found = []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            fa, fb = str(files[a]), str(files[b])
            if fa not in detector.file_data or fb not in detector.file_data:
                continue  # not UTF-8 text: copydetect skipped it
            sim_a, sim_b = detector.similarity_matrix[index[fa], index[fb]]
            overlap = int(detector.token_overlap_matrix[index[fa], index[fb]])
            if overlap <= 0:
                continue
            code = ("", "")
            slices = detector.slice_matrix.get((fa, fb))
            if highlight and slices is not None:
                code = tuple(highlight_overlap(detector.file_data[f].raw_code, s, "<span class=hl>", "</span>",
                                               escape_html=True)[0] for f, s in zip((fa, fb), slices))
            found.append((a, b, ModuleMatch(module, (round(float(sim_a), 4), round(float(sim_b), 4)),
                                            overlap, code)))
    return found


def similar_pairs(submissions: dict[str, Path], *, known_sources=KNOWN_SOURCES, threshold: float = THRESHOLD,
                  min_tokens: int = MIN_TOKENS, noise_t: int = NOISE_T, guarantee_t: int = GUARANTEE_T
                  ) -> list[SimilarPair]:
    """Pairs of submissions with at least one near-identical module, most similar first.

    Parameters
    ----------
    submissions : dict
        Student id -> folder of that student's module files (``*.py``).
    known_sources : sequence of Path
        Folders whose same-named module is code everyone had (the stub, the reference):
        its fingerprints are removed before comparing.
    threshold : float in (0, 1]
        Flag a module at or above this similarity.
    min_tokens : int
        Ignore overlaps shorter than this many filtered characters.

    Returns
    -------
    list of SimilarPair
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"The 'threshold' parameter must be in (0, 1]. Got {threshold!r} instead.")
    by_module: dict[str, dict[str, Path]] = {}
    for student, folder in submissions.items():
        for path in sorted(Path(folder).glob("*.py")):
            by_module.setdefault(path.name, {})[student] = path
    pairs: dict[tuple[str, str], SimilarPair] = {}
    for module, files in sorted(by_module.items()):
        for a, b, match in module_scores(files, known_sources, noise_t=noise_t, guarantee_t=guarantee_t):
            if match.score >= threshold and match.overlap >= min_tokens:
                pairs.setdefault((a, b), SimilarPair(a, b)).modules.append(match)
    return sorted(pairs.values(), key=lambda p: (-p.score, p.a, p.b))
