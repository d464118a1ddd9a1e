"""The `rlscale` command: parse, call the library, print. Every command lives in this package, a
module per group of commands, over library functions that take plain arguments.

A user's mistake (a bad key or value, a bad recipe, data a stage cannot use) is printed as one
line naming the file and the valid choices, with exit code 2: never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from rlscale.analysis.errors import AnalysisError, RecipeError
from rlscale.cli import analysis, run, sweep
from rlscale.cli import reproduce as reproduce_command
from rlscale.config import ConfigError

USER_ERRORS = (ConfigError, RecipeError, AnalysisError)
GROUPS = (run, sweep, analysis, reproduce_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlscale", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the process exit code (2 for a user's mistake)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    accepts_keys = getattr(args, "accepts_keys", False)
    if extra and not accepts_keys:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra) if accepts_keys else args.func(args)
    except USER_ERRORS as error:
        print(f"rlscale {args.command}: error: {error}", file=sys.stderr)
        return 2
