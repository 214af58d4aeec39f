"""Prepare NYU Depth v2 (labeled) for segmentation: RGB, depth and 40-class labels as .npy + manifest.

    python data_prep/nyuv2.py --mat nyu_depth_v2_labeled.mat --splits splits.mat \
        --mapping classMapping40.mat --out OUT
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dglnb.data.errors import DataError
from dglnb.data.nyuv2 import prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mat", type=Path, required=True, help="nyu_depth_v2_labeled.mat (HDF5, MATLAB v7.3)"
    )
    parser.add_argument(
        "--splits", type=Path, required=True, help="splits.mat with trainNdxs/testNdxs (1-based)"
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        required=True,
        help=".mat with mapClass, or .npy/.txt of 894/895 entries",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--val-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        manifest = prepare(
            args.mat, args.splits, args.mapping, args.out, val_share=args.val_share, seed=args.seed
        )
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        ", ".join(f"{s} {len(ids)}" for s, ids in manifest["splits"].items()),
        f"images; wrote {args.out}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
