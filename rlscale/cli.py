"""The `rlscale` command: parse, call the library, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from rlscale.config import ConfigError, load_run_config


def parse_overrides(tokens: list[str]) -> dict[str, Any]:
    """`--critic-width 512 --learning-rate 3e-4` -> {"critic_width": 512, "learning_rate": "3e-4"}.

    Any config key is a flag; values are read as YAML scalars and validated by rlscale.config.
    """
    overrides: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token.startswith("--") or index + 1 >= len(tokens):
            raise ConfigError(
                f"expected '--key value', got {' '.join(tokens[index : index + 2])!r}"
            )
        key, _, inline = token[2:].partition("=")
        value = inline if inline else tokens[index + 1]
        overrides[key.replace("-", "_")] = yaml.safe_load(value)
        index += 1 if inline else 2
    return overrides


def _train(args: argparse.Namespace, extra: list[str]) -> int:
    from rlscale.training.train import train

    config = load_run_config(args.config, parse_overrides(extra))
    frame, result = train(config, args.seeds, args.out, progress=not args.quiet)
    last = frame[frame.metric == "eval/return"].groupby("seed")["value"].last()
    print(
        f"compiled in {result.compile_seconds:.1f}s, trained in {result.train_seconds:.1f}s; "
        f"final eval return per seed: {', '.join(f'{v:.1f}' for v in last)}"
    )
    if args.out:
        print(f"wrote {args.out}/metrics.parquet and {args.out}/config.yaml")
    return 0


def _bench(args: argparse.Namespace, extra: list[str]) -> int:
    from rlscale.bench import bench

    config = load_run_config(args.config, parse_overrides(extra))
    bench(config, seeds=args.seeds, peers=args.peers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlscale", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    keys = "any run-config key as --key value (e.g. --utd 4 --batch-size 128 --critic-width 512)"
    train = commands.add_parser(
        "train", help="train n seeds of one config in one compiled program", epilog=keys
    )
    train.add_argument("--config", help="YAML file of config keys (flags override it)")
    train.add_argument("--seeds", type=int, default=1, help="seeds vmapped in one program")
    train.add_argument("--out", help="directory for metrics.parquet and config.yaml")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)
    bench = commands.add_parser(
        "bench", help="throughput, compile time and MFU, beside peers", epilog=keys
    )
    bench.add_argument("--config", help="YAML file of config keys (flags override it)")
    bench.add_argument("--seeds", type=int, default=1)
    bench.add_argument(
        "--peers",
        action="store_true",
        help="also run sbx-rl and SB3 SAC on Gymnasium Pendulum-v1 (extra 'bench')",
    )
    bench.set_defaults(func=_bench)
    for module in ("rlscale.analysis.commands", "rlscale.sweeps.commands", "rlscale.reproduce"):
        try:
            __import__(module, fromlist=["register"]).register(commands)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    accepts_keys = args.func in (_train, _bench)
    if extra and not accepts_keys:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args, extra) if accepts_keys else args.func(args)
    except ConfigError as error:
        print(f"rlscale {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
