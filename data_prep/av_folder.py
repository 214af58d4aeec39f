"""Prepare your own audio-visual clips: spectrograms + 1-fps frames + manifest.json (see README.md).

    python data_prep/av_folder.py --raw RAW --out DATA_ROOT/NAME [--csv LIST.csv] [--test-share 0.2] \
        [--spectrogram paper] [--frame-side 224] [--fps 1] [--workers N] [--strict]

RAW holds <class>/<clip>.wav + <class>/<clip>.mp4|.jpg|.png, or the files a CSV list (path,label[,split]) names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dglnb.data.audio import SPECS
from dglnb.data.av_folder import prepare
from dglnb.data.prep import add_prep_arguments, prep_options, run_prep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--raw", type=Path, required=True, help="folder holding <class>/<clip>.wav and pictures"
    )
    parser.add_argument(
        "--csv",
        type=Path,
        help="list of clips: header 'path,label[,split]', paths relative to --raw",
    )
    parser.add_argument(
        "--test-share",
        type=float,
        default=0.2,
        help="share held out for test when no split is given",
    )
    parser.add_argument("--fps", type=float, default=1.0, help="video frames kept per second")
    add_prep_arguments(parser, list(SPECS), default="paper")
    args = parser.parse_args(argv)
    return run_prep(
        lambda: prepare(
            args.raw,
            args.out,
            csv_list=args.csv,
            spectrogram_name=args.spectrogram,
            fps=args.fps,
            test_share=args.test_share,
            **prep_options(args),
        ),
        args.out,
    )


if __name__ == "__main__":
    sys.exit(main())
