"""`rlscale reproduce NAME`: P1's protocol end to end (`rlscale.reproduce`)."""

from __future__ import annotations

import argparse

from rlscale.sweeps.execute import RayOptions


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reproduce", help="P1's protocol end to end: grid sweep, fits, held-out σ runs, verdict"
    )
    parser.add_argument("name", help="sweeps/NAME.yaml (the grid) and analysis/NAME.yaml")
    parser.add_argument("--recipe", help="analysis recipe name or path (default: NAME)")
    parser.add_argument("--out", help="output directory (default runs/<sweep name>)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local")
    parser.add_argument("--address", help="Ray cluster address ('auto' joins a running one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from rlscale.reproduce import reproduce  # the analysis' imports only for this command

    executor = RayOptions(args.address) if args.executor == "ray" else None
    result = reproduce(args.name, args.recipe, args.out, executor, progress=not args.quiet)
    print("\n".join(result.lines))
    return 0
