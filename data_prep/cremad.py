"""Prepare CREMA-D from its public release: spectrograms + 1-fps frames + manifest.json.

python data_prep/cremad.py --raw RAW --out OUT [--split-dir DIR] [--workers N] [--strict]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dglnb.data.cremad import prepare
from dglnb.data.prep import add_prep_arguments, prep_options, run_prep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--raw", type=Path, required=True, help="folder holding AudioWAV/ and VideoFlash/"
    )
    parser.add_argument(
        "--split-dir", type=Path, help="folder with the official train.csv and test.csv"
    )
    add_prep_arguments(parser, ["paper", "official"], default="paper")
    args = parser.parse_args(argv)
    return run_prep(
        lambda: prepare(
            args.raw,
            args.out,
            split_dir=args.split_dir,
            spectrogram_name=args.spectrogram,
            **prep_options(args),
        ),
        args.out,
    )


if __name__ == "__main__":
    sys.exit(main())
