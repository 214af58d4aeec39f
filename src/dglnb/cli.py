"""The ``dglnb`` command: ``dglnb train ...``, ``dglnb sweep FILE.yaml`` and ``dglnb data check ...``.

``dglnb train`` has one option per :class:`~dglnb.config.train_config.TrainConfig` field, derived
from the dataclass (:func:`add_config_options`): ``--<field-name>`` with the field's type and its
documentation as help; booleans as ``--x/--no-x``, tuples as several values (``--milestones 70 90``;
none for an empty one), the method's options as repeatable ``--method-option NAME=VALUE``. Left
out, a setting keeps the config's default; ``--config FILE.yaml`` (:func:`dglnb.config.files.read_settings`)
sets any of them from a file, which the options given on the command line override.

A mistake the user can fix (an unknown name, an invalid value, a missing or unprepared dataset, a
checkpoint from another run) is printed as ``dglnb: error: <message>`` without a traceback, with
status 2; a run stopped by its environment (full disk, crashed data-loader worker), or a sweep with a
failed run, exits with 1.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from .config import CHOICES, PROFILES, TrainConfig, read_settings
from .config.files import field_types
from .errors import ConfigError, UserError

#: What ``dglnb train`` needs, on the command line or in ``--config``.
REQUIRED = ("dataset", "method", "out")


def method_option(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> (name, value), the value read as JSON (numbers, true/false, null) or else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def field_docs(cls: type) -> dict[str, str]:
    """Each field's documentation: the string written under it in the class body, on one line."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for field, after in zip(body, body[1:]):
        documented = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        if isinstance(field, ast.AnnAssign) and documented and isinstance(after.value.value, str):
            docs[ast.unparse(field.target)] = " ".join(after.value.value.split())
    return docs


def _option(name: str, kind: Any, default: Any) -> tuple[list[str], dict[str, Any]]:
    """The flags and argparse keywords of the TrainConfig field ``name`` of type ``kind``."""
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        shown = "" if default is None else f" (default: {'on' if default else 'off'})"
        return [flag], {"action": argparse.BooleanOptionalAction, "help_suffix": shown}
    if typing.get_origin(kind) is tuple:
        return [flag], {"nargs": "*", "type": typing.get_args(kind)[0]}
    if typing.get_origin(kind) is dict:  # NAME=VALUE pairs, one per flag
        pairs = {"action": "append", "type": method_option, "metavar": "NAME=VALUE"}
        return [flag.removesuffix("s"), flag], pairs
    choices = list(PROFILES) if name == "profile" else CHOICES.get(name)
    shown = "" if default is None else f" (default: {default})"
    metavar = name.upper() if choices is None else None
    return [flag], {"type": kind, "choices": choices, "metavar": metavar, "help_suffix": shown}


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field; an option left out is absent from the parsed namespace."""
    docs, kinds = field_docs(TrainConfig), field_types()
    for field in dataclasses.fields(TrainConfig):
        default = None if field.default is dataclasses.MISSING else field.default
        flags, options = _option(field.name, kinds[field.name], default)
        help_text = docs.get(field.name, "") + options.pop("help_suffix", "")
        parser.add_argument(
            *flags, dest=field.name, default=argparse.SUPPRESS, help=help_text, **options
        )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE.yaml",
        help="a run's settings as a YAML file of TrainConfig fields; the options "
        "given on the command line override it",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of ``dglnb train``'s arguments: the config's defaults, then ``--config``'s
    settings, then the options given on the command line."""
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    given = {name: getattr(args, name) for name in names if hasattr(args, name)}
    values = read_settings(args.config) if args.config else {}
    from_file = values.get("method_options") or {}
    if not isinstance(from_file, dict):
        raise ConfigError(
            f"method_options in {args.config} must map option names to values, e.g. {{gamma: 1.5}}"
        )
    options = {**from_file, **dict(given.pop("method_options", ()))}
    values = {**values, **given, "method_options": options}
    values |= {name: tuple(v) for name, v in values.items() if isinstance(v, list)}
    missing = [name for name in REQUIRED if values.get(name) is None]
    if missing:
        raise ConfigError(
            f"dglnb train needs {', '.join('--' + m for m in missing)} "
            "(on the command line or in --config)"
        )
    return TrainConfig(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dglnb", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train one model and write metrics.json, history.csv, checkpoints"
    )
    add_config_options(train)

    sweep = commands.add_parser(
        "sweep", help="train a grid of runs (methods x datasets x seeds x options) from a YAML file"
    )
    sweep.add_argument("config", type=Path, help="the sweep file, e.g. sweeps/table1_quick.yaml")
    sweep.add_argument(
        "--collect",
        action="store_true",
        help="write the finished runs' metrics as one table (results.csv) instead of training",
    )
    sweep.add_argument(
        "--pack",
        type=int,
        default=1,
        metavar="N",
        help="train N runs at a time on this machine, each in its own process "
        "on the device its settings name (launcher local; default 1)",
    )

    data = commands.add_parser("data", help="dataset utilities")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    check = data_commands.add_parser(
        "check", help="validate a prepared dataset and print a summary"
    )
    check.add_argument("--dataset", required=True)
    check.add_argument("--data-root", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; a user-fixable error exits with its status and a message, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            from .train.run import train_and_report

            train_and_report(config_from_args(args))
        elif args.command == "sweep":
            from .train.sweep import sweep_from_args

            return sweep_from_args(args.config, collect_only=args.collect, pack=args.pack)
        elif args.command == "data" and args.data_command == "check":
            from .data.check import check_dataset

            print(check_dataset(args.dataset, args.data_root))
    except UserError as error:
        parser.exit(error.exit_status, f"dglnb: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(
            130,
            "dglnb: interrupted; a training run continues from its last checkpoint with --resume\n",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
