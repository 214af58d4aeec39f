"""Prepare VGGSound from 10 s .mp4 clips + vggsound.csv: spectrograms, 3 frames, manifest.

    python data_prep/vggsound.py --clips DIR --csv vggsound.csv --out OUT [--expected-classes 309] \
        [--workers N] [--strict]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dglnb.data.prep import add_prep_arguments, prep_options, run_prep
from dglnb.data.vggsound import EXPECTED_CLASSES, prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clips", type=Path, required=True, help="folder holding <ytid>_<start:06d>.mp4"
    )
    parser.add_argument("--csv", type=Path, required=True, help="ytid,start,label,train|test rows")
    parser.add_argument("--expected-classes", type=int, default=EXPECTED_CLASSES)
    add_prep_arguments(parser, ["paper_10s", "official_5s"], default="paper_10s")
    args = parser.parse_args(argv)
    return run_prep(
        lambda: prepare(
            args.clips,
            args.csv,
            args.out,
            expected_classes=args.expected_classes,
            spectrogram_name=args.spectrogram,
            **prep_options(args),
        ),
        args.out,
    )


if __name__ == "__main__":
    sys.exit(main())
