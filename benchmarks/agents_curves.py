"""Learning curves of every agent preset on one task (not CI): `python benchmarks/agents_curves.py
--env brax:inverted_pendulum --steps 100000 --seeds 3 --out results/agents_curves`.

Writes <out>/<preset>/metrics.parquet per agent and prints the final eval return of each, to be
compared with science/agents.md section 8 (DMC/MuJoCo numbers need `dmc:<domain>-<task>` envs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlscale.config import load_run_config
from rlscale.training.train import train

PRESETS = ("sac", "crossq", "simbav2", "bro", "sac_softmoe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="brax:inverted_pendulum")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--critic-width", type=int, default=0, help="0 = the preset's width")
    parser.add_argument("--out", default="results/agents_curves")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    args = parser.parse_args()
    for preset in args.presets:
        path = Path("agents") / f"{preset}.yaml"
        overrides = {
            "env": args.env,
            "steps": args.steps,
            "eval_every": max(args.steps // 20, 1000),
        }
        if args.critic_width:
            overrides["critic_width"] = args.critic_width
        config = load_run_config(path if path.is_file() else None, overrides)
        frame, _ = train(config, args.seeds, out=Path(args.out) / preset, progress=True)
        returns = frame[frame["metric"] == "eval/return"]
        final = returns[returns["env_steps"] == returns["env_steps"].max()]["value"]
        print(f"{preset:12s} {args.env} @{args.steps}: {final.mean():.1f} +- {final.std():.1f}")


if __name__ == "__main__":
    main()
