"""`rlscale train` and `rlscale bench`: one config, any config key as a flag."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

from rlscale.config import ConfigError, load_run_config

KEYS = "any run-config key as --key value (e.g. --utd 4 --batch-size 128 --critic-width 512)"
DETERMINISTIC = "deterministic GPU ops (a process-wide XLA flag), recorded in the run's config"


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train n seeds of one config in one compiled program", epilog=KEYS
    )
    train.add_argument("--config", help="YAML file of config keys (flags override it)")
    train.add_argument("--seeds", type=int, default=1, help="seeds vmapped in one program")
    train.add_argument("--out", help="directory for metrics.parquet and config.yaml")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--deterministic", action="store_true", help=DETERMINISTIC)
    train.set_defaults(func=_train, accepts_keys=True)
    bench = commands.add_parser(
        "bench", help="throughput, compile time and MFU, beside peers", epilog=KEYS
    )
    bench.add_argument("--config", help="YAML file of config keys (flags override it)")
    bench.add_argument("--seeds", type=int, default=1)
    bench.add_argument(
        "--peers",
        action="store_true",
        help="also run sbx-rl and SB3 SAC on Gymnasium Pendulum-v1 (extra 'bench')",
    )
    bench.add_argument("--deterministic", action="store_true", help=DETERMINISTIC)
    bench.set_defaults(func=_bench, accepts_keys=True)


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
        try:
            overrides[key.replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"--{key} {value!r}: not a valid YAML value: {problem}") from None
        index += 1 if inline else 2
    return overrides


def _config(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    """The run's config; deterministic GPU ops (--deterministic, the config's key, or the flag
    already in XLA_FLAGS) are put in it and in effect, relaunching the command if need be."""
    from rlscale.training import precision

    overrides = parse_overrides(extra)
    if args.deterministic or precision.deterministic():
        overrides["deterministic"] = True
    config = load_run_config(args.config, overrides)
    if config["deterministic"]:
        precision.relaunch_deterministic()
    return config


def _train(args: argparse.Namespace, extra: list[str]) -> int:
    from rlscale.training.train import train  # local: `rlscale --help` needs no JAX

    config = _config(args, extra)
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

    config = _config(args, extra)
    bench(config, seeds=args.seeds, peers=args.peers)
    return 0
