"""Learning curves of every agent preset on one task (not CI):

    python benchmarks/agents_curves.py --env jax:pendulum --steps 10000 --seeds 2 --critic-width 128

Trains each preset (`agents/<preset>.yaml`, the flags overriding it) and writes, via the one result
writer (`rlscale.provenance`), `benchmarks/results/agents_curves/<env>-<steps>-w<width>.json` (every
preset's eval curve per seed) and `.md` (final return per preset), each stating the command line,
versions and device; `--utd` (one σ for every preset, e.g. for BRO's 10 on a CPU) adds `-utd<σ>`
to the name. Compare with science/agents.md section 8 (DMC needs `dmc:<domain>-<task>`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rlscale.config import load_run_config
from rlscale.provenance import write_result
from rlscale.training.train import train

PRESETS = ("sac", "crossq", "simbav2", "bro", "bro_minimal", "sac_softmoe")
RESULTS = Path(__file__).resolve().parent / "results" / "agents_curves"


def _table(args: argparse.Namespace, rows: list[str]) -> str:
    return "\n".join(
        [
            f"Final eval return on {args.env} after {args.steps} env steps (mean ± std, seeds).",
            "",
            "| preset | critic width | σ | final return | seeds | minutes |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="jax:pendulum")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--critic-width", type=int, default=0, help="0 = the preset's width")
    parser.add_argument("--utd", type=float, default=0, help="0 = the preset's σ (BRO's is 10)")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    args = parser.parse_args()
    width = f"w{args.critic_width}" if args.critic_width else "preset-widths"
    name = f"{args.env.replace(':', '-')}-{args.steps}-{width}" + (
        f"-utd{args.utd:g}" * bool(args.utd)
    )
    curves, rows = {}, []
    for preset in args.presets:
        overrides = {"env": args.env, "steps": args.steps}
        if args.critic_width:
            overrides["critic_width"] = args.critic_width
        if args.utd:
            overrides["utd"] = args.utd
        config = load_run_config(Path("agents") / f"{preset}.yaml", overrides)
        start = time.perf_counter()
        frame, _ = train(config, args.seeds, progress=True)
        minutes = (time.perf_counter() - start) / 60
        returns = frame[frame["metric"] == "eval/return"]
        curves[preset] = {
            "config": config,
            "eval_return": returns.pivot(index="env_steps", columns="seed", values="value")
            .reset_index()
            .to_dict(orient="list"),
        }
        final = returns[returns["env_steps"] == returns["env_steps"].max()]["value"]
        rows.append(
            f"| {preset} | {config['critic_width']} | {config['utd']:g} | "
            f"{final.mean():.1f} ± {final.std():.1f} | {args.seeds} | {minutes:.1f} |"
        )
        print(f"{preset:12s} {args.env} @{args.steps}: {final.mean():.1f} +- {final.std():.1f}")
        # Rewritten after each preset, so a run cut short keeps the presets it finished.
        print(write_result(RESULTS, name, {"curves": curves}, _table(args, rows)))


if __name__ == "__main__":
    main()
