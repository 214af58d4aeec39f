"""Prepare CREMA-D from its public release: spectrograms + 1-fps frames + manifest.json.

    python data_prep/cremad.py --raw RAW --out OUT [--split-dir DIR] [--workers N] [--strict]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dglnb.data.audio import SPECS
from dglnb.data.cremad import prepare
from dglnb.data.errors import DataError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, required=True, help="folder holding AudioWAV/ and VideoFlash/")
    parser.add_argument("--out", type=Path, required=True, help="prepared folder (re-running resumes)")
    parser.add_argument("--split-dir", type=Path, help="folder with the official train.csv and test.csv")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--strict", action="store_true", help="stop on the first bad clips instead of skipping them")
    parser.add_argument("--spectrogram", default="paper", choices=[s for s in SPECS if "10s" not in s and "5s" not in s])
    parser.add_argument("--frame-side", type=int, default=224)
    parser.add_argument("--val-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        manifest = prepare(args.raw, args.out, split_dir=args.split_dir, workers=args.workers, strict=args.strict,
                           spectrogram=args.spectrogram, frame_side=args.frame_side, val_share=args.val_share,
                           seed=args.seed)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for split, counts in manifest["class_counts"].items():
        print(f"{split:5s} {sum(counts):6d} clips, per class {counts}")
    print(f"skipped {len(manifest['skipped'])} bad clip(s); wrote {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
