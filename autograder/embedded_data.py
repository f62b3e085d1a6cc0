"""Data carried in a submission's code: tables, encoded blobs and files it reads.

A solution to this chapter computes its answers from the data the grader passes in. Code that
brings its own data (the public MNIST test labels keyed by image, the Titanic passenger list
with who survived, a compressed pickle) can score well without learning anything, and in forms
that no behavioural check can always tell from an honest model. So the grader reads every
submitted module's source (it never runs it for this) and reports, for the instructor, each place
that looks like carried data, with its evidence:

- ``long literal``: a string or bytes literal of at least ``LONG_LITERAL`` characters (prose
  docstrings of that size are rare; the stubs' longest is about 1,300);
- ``encoded literal``: a literal of at least ``ENCODED_LITERAL`` characters written almost only in a
  base64 or hex alphabet, without spaces (an encoded or compressed blob);
- ``table literal``: a list, tuple, set or dict display holding at least ``TABLE_VALUES``
  constants (a lookup table written out);
- ``decodes data``: a call that decompresses or deserialises (``zlib.decompress``,
  ``base64.b64decode``, ``pickle.loads``, ``bytes.fromhex``...);
- ``encoded comments``: comment lines that together hold at least ``ENCODED_LITERAL`` characters
  of a base64 or hex alphabet (a blob split into comment lines, to be read back with ``open``);
- ``reads a file``: a call that reads a file (``open``, ``np.load``, ``pd.read_csv``,
  ``joblib.load``, ``inspect.getsource``...) found from a module's ``__file__`` or named by a
  ``.py`` literal. The sandbox shows student code only the submission's own ``.py`` files and the
  libraries, so those are the only reads that can reach data the submission carries (for example a
  blob in another file's comments). A read of ``"datasets/train.csv"`` (common in notebooks) finds
  nothing there and is not flagged, nor are network calls: the sandbox has no network.

A flag is evidence for a person to read, not a verdict: it never changes a score. The thresholds
sit well above what the reference solutions, the stubs and the fairness fixtures contain (a test
checks that none of them is flagged).
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from pathlib import Path

#: A string or bytes literal this long is reported whatever it holds.
LONG_LITERAL = 4_000
#: A literal this long written in a base64 or hex alphabet only is reported as an encoded blob.
ENCODED_LITERAL = 400
#: A display (list, tuple, set, dict) with this many constants in it is reported as a table.
TABLE_VALUES = 300
#: At most this many flags are kept per file (the count of the others is kept).
FLAGS_PER_FILE = 20
#: The largest source the scan parses (parsing costs about 1 KB of memory per character of dense
#: code): the bound of a module file (``grading.MAX_MODULE_BYTES``), which prepare_submission
#: applies first; a larger file given here is reported unparsed.
MAX_SCANNED_CHARS = 512 * 1024

_ENCODED = re.compile(rb"[A-Za-z0-9+/=_\-\s]*")   # base64 (both alphabets) and hex, with line breaks
_SPACE = re.compile(rb"\s")

#: Calls (the last two parts of a dotted name, or a bare name) that turn stored bytes into data.
DECODING_CALLS = {
    "zlib.decompress", "lzma.decompress", "bz2.decompress", "gzip.decompress",
    "base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.a85decode", "base64.b85decode",
    "base64.decodebytes", "base64.urlsafe_b64decode", "binascii.unhexlify", "binascii.a2b_base64",
    "bytes.fromhex", "codecs.decode", "pickle.loads", "pickle.load", "marshal.loads", "marshal.load",
    "np.frombuffer", "numpy.frombuffer", "b64decode", "decompress", "unhexlify", "fromhex",
}
#: Calls that read a file or the network.
READING_CALLS = {
    "open", "io.open", "np.load", "numpy.load", "np.loadtxt", "numpy.loadtxt", "np.genfromtxt",
    "np.fromfile", "numpy.fromfile", "joblib.load", "pd.read_csv", "pandas.read_csv", "pd.read_pickle",
    "pandas.read_pickle", "pd.read_parquet", "pd.read_json", "pd.read_excel", "pd.read_feather",
    "pd.read_table", "read_text", "read_bytes", "tarfile.open", "zipfile.ZipFile", "shelve.open",
    "sqlite3.connect", "linecache.getlines", "inspect.getsource",
}
_OWN_FILE_NAMES = {"__file__", "__spec__", "__loader__", "__path__"}
#: A comment line of at least this many characters in a base64/hex alphabet counts towards a blob.
ENCODED_COMMENT_LINE = 40


@dataclass(frozen=True)
class DataFlag:
    """One place in a submitted file that looks like carried data."""

    file: str
    line: int
    kind: str       # "long literal", "encoded literal", "table literal", "encoded comments", "decodes data",
                    # "reads a file", "too large to scan"
    evidence: str   # what was seen, e.g. "a 48,213-character string in a base64 alphabet"

    def describe(self) -> str:
        return f"{self.file}, line {self.line}: {self.kind}: {self.evidence}"

    def to_dict(self) -> dict:
        return asdict(self)


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, ``c`` for a call on anything else, ``""`` otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif parts:
        parts.append("")
    return ".".join(reversed(parts)).lstrip(".")


def _call_kind(call: ast.Call) -> tuple[str, str] | None:
    name = _dotted(call.func)
    if not name:
        return None
    candidates = {name, ".".join(name.split(".")[-2:]), name.split(".")[-1]}
    if candidates & DECODING_CALLS:
        return "decodes data", name
    if candidates & READING_CALLS and _names_own_file(call):
        return "reads a file", name
    return None


def _names_own_file(call: ast.Call) -> bool:
    """True when the call reads a ``.py`` file named in the code or a path found from a ``__file__``
    (a parameter such as ``open(path)`` in a helper is the caller's business)."""
    arguments = [*call.args, *(k.value for k in call.keywords)]
    if isinstance(call.func, ast.Attribute):   # Path("x").read_text(), Path(__file__).with_name(...).read_bytes()
        arguments.append(call.func.value)
    for argument in arguments:
        for node in ast.walk(argument):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".py"):
                return True
            if isinstance(node, ast.Name) and node.id in _OWN_FILE_NAMES:
                return True
            if isinstance(node, ast.Attribute) and node.attr in _OWN_FILE_NAMES:
                return True
    return False


def _comment_flags(source: bytes, filename: str) -> list[DataFlag]:
    """One flag for encoded-looking comment lines that add up to a blob, at the first such line."""
    lines = [(number, line.strip()[1:].strip().encode())
             for number, line in enumerate(source.decode("utf-8", "replace").splitlines(), start=1)
             if line.strip().startswith("#")]
    encoded = [(number, text) for number, text in lines
               if len(text) >= ENCODED_COMMENT_LINE and b" " not in text and _ENCODED.fullmatch(text)]
    total = sum(len(text) for _, text in encoded)
    if total < ENCODED_LITERAL:
        return []
    return [DataFlag(filename, encoded[0][0], "encoded comments",
                     f"{len(encoded)} comment lines, {total:,} characters in a base64/hex alphabet")]


def _literal_flag(value: str | bytes) -> tuple[str, str] | None:
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    size = len(raw)
    what = "string" if isinstance(value, str) else "bytes literal"
    if size >= ENCODED_LITERAL and _ENCODED.fullmatch(raw) and len(_SPACE.sub(b"", raw)) >= 0.97 * size \
            and b" " not in raw:
        return "encoded literal", f"a {size:,}-character {what} written only in a base64/hex alphabet"
    if size >= LONG_LITERAL:
        return "long literal", f"a {size:,}-character {what}"
    return None


def _constants_in(node: ast.AST) -> int:
    return sum(isinstance(n, ast.Constant) for n in ast.walk(node))


def scan_source(source: str | bytes, filename: str) -> list[DataFlag]:
    """The data flags of one file's source; a file that does not parse has none (its import fails anyway)."""
    if len(source) > MAX_SCANNED_CHARS:
        return [DataFlag(filename, 0, "too large to scan", f"{len(source):,} characters, more than the "
                         f"{MAX_SCANNED_CHARS:,} the scan parses: a file this large is data-sized")]
    try:
        tree = ast.parse(source, filename=filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    flags: list[DataFlag] = []
    inside_table: set[int] = set()   # constants already counted in an enclosing table
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)) and id(node) not in inside_table:
            count = _constants_in(node)
            if count >= TABLE_VALUES:
                inside_table.update(id(n) for n in ast.walk(node))
                kind = type(node).__name__.lower()
                flags.append(DataFlag(filename, line, "table literal", f"a {kind} display of {count:,} constants"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            found = _literal_flag(node.value)
            if found:
                flags.append(DataFlag(filename, line, *found))
        elif isinstance(node, ast.Call):
            found = _call_kind(node)
            if found:
                kind, name = found
                flags.append(DataFlag(filename, line, kind, f"calls {name}()"))
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    flags.extend(_comment_flags(raw, filename))
    flags.sort(key=lambda f: (f.line, f.kind))
    if len(flags) > FLAGS_PER_FILE:
        extra = len(flags) - FLAGS_PER_FILE
        flags = flags[:FLAGS_PER_FILE] + [DataFlag(filename, flags[FLAGS_PER_FILE].line, "more",
                                                   f"{extra} more place(s) not listed")]
    return flags


def scan_submission(directory: Path) -> list[DataFlag]:
    """The data flags of every ``.py`` file of a prepared (flat) submission folder, in name order."""
    flags: list[DataFlag] = []
    for path in sorted(Path(directory).glob("*.py")):
        if path.is_file() and not path.is_symlink():
            flags.extend(scan_source(path.read_bytes(), path.name))
    return flags
