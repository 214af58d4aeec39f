"""The ``dglnb`` command: ``dglnb train ...``, ``dglnb sweep FILE.yaml`` and ``dglnb data check ...``.

A mistake the user can fix (an unknown name, an invalid value, a missing or unprepared dataset, a
checkpoint from another run) is printed as ``dglnb: error: <message>`` without a traceback, with
status 2; a run stopped by its environment (full disk, crashed data-loader worker), or a sweep with a
failed run, exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import UserError
from .config import DATA_PATHS, PROFILES, PROTOCOLS


def method_option(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> (name, value), the value read as JSON (numbers, true/false, null) or else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dglnb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one model and write metrics.json, history.csv, checkpoints")
    train.add_argument("--dataset", required=True)
    train.add_argument("--method", required=True)
    train.add_argument("--fusion", default=None, help="None: the dataset's (concat; esanet for RGB-D segmentation)")
    train.add_argument("--profile", default="quick", choices=list(PROFILES))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--alpha", type=float, default=None, help="DGL's unimodal loss weight (eq. 15)")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--data-root", type=Path, default=None)
    train.add_argument("--pretrained", type=Path, default=None,
                       help="a torchvision ResNet18 state dict (torch.save) to start every ResNet18 encoder from; "
                            "one-channel encoders get its first convolution summed over RGB. Nothing is downloaded")
    train.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--resume", action="store_true",
                       help="continue from the last checkpoint in --out (it must come from a run with the same settings)")
    train.add_argument("--deterministic", action="store_true",
                       help="CUDA: deterministic kernels only (slower; CPU runs are deterministic without it)")
    train.add_argument("--num-workers", type=int, default=0, help="data-loader worker processes")
    train.add_argument("--protocol", default="honest", choices=list(PROTOCOLS),
                       help="honest: hold out val from train and select the epoch on val; official: train on the whole "
                            "train split and select on test, as the official code does (an optimistic estimate)")
    train.add_argument("--selection", default=None, choices=["val", "test"],
                       help="override the protocol's model selection: best validation or best test epoch")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="random resized crop and horizontal flip of the training frames, batched on the device "
                            "(default: the profile's; on in the full profile for prepared audio-visual datasets)")
    train.add_argument("--data-path", default=None, choices=list(DATA_PATHS),
                       help="files: read samples from the prepared files; memory: load the split once (onto the "
                            "GPU); mapped: memory-map .npy arrays written once into DATA_ROOT/arrays (default: the profile's)")
    train.add_argument("--compile", action="store_true", help="torch.compile the encoders and the fusion module")
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: the profile's)")
    train.add_argument("--batch-size", type=int, default=None, help="batch size (default: the profile's)")
    train.add_argument("--method-option", dest="method_options", action="append", type=method_option,
                       metavar="NAME=VALUE", help="a hyperparameter or switch of the method, e.g. gradient_noise=false "
                                                  "(VALUE is read as JSON, else as a string); repeatable")
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")

    sweep = commands.add_parser("sweep", help="train a grid of runs (methods x datasets x seeds x options) from a YAML file")
    sweep.add_argument("config", type=Path, help="the sweep file, e.g. sweeps/table1_quick.yaml")
    sweep.add_argument("--collect", action="store_true",
                       help="write the finished runs' metrics as one table (results.csv) instead of training")

    data = commands.add_parser("data", help="dataset utilities")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    check = data_commands.add_parser("check", help="validate a prepared dataset and print a summary")
    check.add_argument("--dataset", required=True)
    check.add_argument("--data-root", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; a user-fixable error exits with its status and a message, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            from .train.run import train_from_args

            train_from_args(args)
        elif args.command == "sweep":
            from .train.sweep import sweep_from_args

            return sweep_from_args(args.config, collect_only=args.collect)
        elif args.command == "data" and args.data_command == "check":
            from .data.check import check_dataset

            print(check_dataset(args.dataset, args.data_root))
    except UserError as error:
        parser.exit(error.exit_status, f"dglnb: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "dglnb: interrupted; a training run continues from its last checkpoint with --resume\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
