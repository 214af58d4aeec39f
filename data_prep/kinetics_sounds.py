"""Prepare Kinetics-Sounds from 10 s .mp4 clips + OGM-GE list files: spectrograms, 3 frames, manifest.

    python data_prep/kinetics_sounds.py --clips DIR --train-list my_train.txt --test-list my_test.txt \
        --out OUT [--expected-classes 31] [--workers N] [--strict]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dglnb.data.kinetics_sounds import EXPECTED_CLASSES, prepare
from dglnb.data.prep import add_prep_arguments, prep_options, run_prep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=Path, required=True, help="folder holding <clip id>.mp4")
    parser.add_argument("--train-list", type=Path, required=True)
    parser.add_argument("--test-list", type=Path, required=True)
    parser.add_argument(
        "--expected-classes",
        type=int,
        default=EXPECTED_CLASSES,
        help="31 for OGM-GE's lists; public lists also have 33 or 34",
    )
    add_prep_arguments(parser, ["paper_10s", "official_5s"], default="paper_10s")
    args = parser.parse_args(argv)
    return run_prep(
        lambda: prepare(
            args.clips,
            args.train_list,
            args.test_list,
            args.out,
            expected_classes=args.expected_classes,
            spectrogram_name=args.spectrogram,
            **prep_options(args),
        ),
        args.out,
    )


if __name__ == "__main__":
    sys.exit(main())
