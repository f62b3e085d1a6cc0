"""Regenerate the embedded quick-profile sample from the full data.

    CH3_DATA_DIR=../shared/data python scripts/make_sample.py

writes ``autograder/data/sample/`` and prints the ``SAMPLE`` digests to paste
into ``autograder/data/_checksums.py``.
"""

import argparse
import pprint
from pathlib import Path

from autograder.data import SAMPLE_DIR
from autograder.data.sampling import build_sample

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--data-dir", help="full-data directory (default: $CH3_DATA_DIR)")
parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help=f"output folder (default: {SAMPLE_DIR})")
args = parser.parse_args()
digests = build_sample(args.out, data_dir=args.data_dir)
print("SAMPLE = " + pprint.pformat(digests, sort_dicts=True))
