"""`rlscale bench`: compile time, updates/s, env steps/s and model-FLOP utilisation of one
config, beside sbx-rl's and SB3's SAC at the same hyperparameters when the `bench` extra is in.

MFU = achieved update FLOP/s (XLA-counted FLOPs of one update x updates/s) / the FLOP/s of a large
float32 matmul measured on the same device now at the run's matmul precision, so it is relative to
what this machine can do.
"""

from __future__ import annotations

import time
from typing import Any

import jax

from rlscale.training import precision
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.loop import updates_after
from rlscale.training.runner import run_group


def matmul_flops_per_second(size: int = 2048, repeats: int = 10, level: str = "highest") -> float:
    """Measured float32 matmul throughput at matmul precision `level`: the denominator of MFU."""
    a = jax.random.normal(jax.random.key(0), (size, size))
    matmul = jax.jit(precision.scoped(lambda x: x @ x, level))
    matmul(a).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = matmul(a)
    out.block_until_ready()
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def measure(config: dict[str, Any], seeds: int) -> dict[str, float]:
    start = time.perf_counter()
    (group,) = group_runs(seed_runs(config, seeds))
    first = {}
    result = run_group(
        group, progress=False, on_chunk=lambda i: first.setdefault("t", time.perf_counter() - start)
    )
    loop = group.loop
    updates = updates_after(loop, loop.n_chunks * loop.iterations_per_chunk) * seeds
    updates_per_second = updates / result.train_seconds
    peak = matmul_flops_per_second(level=config["matmul_precision"])
    return {
        "compile_s": result.compile_seconds,
        "first_eval_point_s": first["t"],
        "env_steps_per_s": loop.total_steps * seeds / result.train_seconds,
        "updates_per_s": updates_per_second,
        "flops_per_update": result.flops_per_update,
        "achieved_gflops": result.flops_per_update * updates_per_second / 1e9,
        "peak_matmul_gflops": peak / 1e9,
        "mfu": result.flops_per_update * updates_per_second / peak,
        # Host envs: where the wall time goes (env stepping, acting, updates, evaluation).
        **{f"{k}_fraction": v / result.train_seconds for k, v in (result.timings or {}).items()},
    }


def _peer(name: str, config: dict[str, Any]) -> dict[str, float] | None:
    """Steps/s of a peer library's SAC on Gymnasium Pendulum-v1 at the same hyperparameters."""
    try:
        if name == "sbx":
            from sbx import SAC
        else:
            from stable_baselines3 import SAC
    except ImportError:
        print(f"  {name}: not installed (pip install 'rlscale[bench]')")
        return None
    width, depth = config["critic_width"], config["critic_depth"]
    model = SAC(
        "MlpPolicy",
        "Pendulum-v1",
        learning_rate=config["learning_rate"],
        batch_size=config["batch_size"],
        learning_starts=config["warmup_steps"],
        gradient_steps=max(1, round(config["utd"])),
        tau=config["tau"],
        gamma=config["gamma"],
        policy_kwargs={"net_arch": [width] * depth},
        seed=0,
        verbose=0,
    )
    model.learn(config["warmup_steps"] + 500)  # compile / warm caches outside the timing
    steps = config["steps"]
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    env_steps_per_second = steps / (time.perf_counter() - start)
    return {
        "env_steps_per_s": env_steps_per_second,
        "updates_per_s": env_steps_per_second * max(1, round(config["utd"])),
    }


def bench(config: dict[str, Any], seeds: int = 1, peers: bool = False) -> dict[str, Any]:
    """Print and return rlscale's throughput for `config` (and the peers' when asked)."""
    print(
        f"device: {jax.devices()[0].device_kind}; agent={config['agent']} env={config['env']} "
        f"width={config['critic_width']} batch={config['batch_size']} utd={config['utd']} "
        f"seeds={seeds} steps={config['steps']} matmul_precision={config['matmul_precision']} "
        f"deterministic={precision.deterministic()}"
    )
    ours = measure(config, seeds)
    for key, value in ours.items():
        print(f"  rlscale {key:>20}: {value:,.3g}")
    report: dict[str, Any] = {
        "rlscale": ours,
        "matmul_precision": config["matmul_precision"],
        "deterministic": precision.deterministic(),
    }
    if peers:
        for name in ("sbx", "sb3"):
            peer = _peer(name, config)
            if peer:
                # Updates/s, not env steps/s: the peer is timed after its warm-up, while
                # rlscale's env steps include the random warm-up steps that do no updates.
                ratio = ours["updates_per_s"] / peer["updates_per_s"]
                print(
                    f"  {name:>7} updates_per_s: {peer['updates_per_s']:,.3g}  "
                    f"(rlscale is {ratio:.2f}x)"
                )
                report[name] = {**peer, "rlscale_ratio": ratio}
    return report


__all__ = ["bench"]
