"""The device check's sections (see device_check.py): each takes the Sizes and returns a dict."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rlscale.bench import matmul_flops_per_second
from rlscale.config import load_run_config
from rlscale.envs.base import reset_episode, step_episode
from rlscale.sweeps import execute
from rlscale.sweeps.plan import run_bytes, split_groups
from rlscale.training import precision
from rlscale.training.group import Group, group_runs, seed_runs
from rlscale.training.loop import updates_after
from rlscale.training.runner import run_group
from rlscale.types import Transition

LOSSES = ("critic/loss", "actor/loss")
AGREE_P = 0.01  # Welch's t-test: final returns on the two backends agree when p >= this


def _group(seeds: int, **keys: Any) -> Group:
    (group,) = group_runs(seed_runs(load_run_config(None, keys), seeds))
    return group


def _on(device):
    """Run on `device` (the CPU reference or the accelerator)."""
    return jax.default_device(device) if device is not None else contextlib.nullcontext()


def _first_update(group: Group, device) -> np.ndarray:
    """[seeds, losses] of each run's first update on one fixed random batch (made on the host,
    so both backends see the same numbers)."""
    env, agent = group.env_and_agent()
    rng = np.random.default_rng(0)
    batch_size = group.static["batch_size"]
    sizes = {"obs": env.obs_size, "next_obs": env.obs_size, "action": env.action_size}
    batch = Transition(
        **{
            f: rng.uniform(-1, 1, (batch_size, sizes[f]) if f in sizes else (batch_size,)).astype(
                np.float32
            )
            * (f != "terminated")
            for f in Transition._fields
        }
    )
    update = jax.jit(precision.scoped(agent.update, group.static["matmul_precision"]))
    out = []
    with _on(device):
        for run in group.runs:
            key = jax.random.key(run.config["seed"])
            state = agent.init(key, agent.hparams._replace(**run.hparams))
            _, metrics = update(state, jax.tree.map(jnp.asarray, batch), key)
            out.append([float(metrics[name]) for name in LOSSES])
    return np.array(out)


def _final_returns(group: Group, device) -> list[float]:
    with _on(device):
        result = run_group(group, progress=False)
    return [
        float(frame[frame.metric == "eval/return"].value.iloc[-1])
        for frame in result.frames.values()
    ]


def correctness(s) -> dict[str, Any]:
    from scipy import stats

    cpu = jax.devices("cpu")[0]
    on_cpu = jax.devices()[0].platform == "cpu"  # the smoke run: the "device" is the CPU itself
    keys = {"critic_width": s.width, "actor_width": s.width, "batch_size": s.batch}
    reference = _first_update(_group(s.seeds, **keys), cpu)
    first = {}
    for level in s.levels:
        same = on_cpu and level == "highest"
        losses = (
            reference
            if same
            else _first_update(_group(s.seeds, **keys, matmul_precision=level), None)
        )
        scale = np.maximum(np.abs(reference), 1e-12)
        first[level] = float(np.max(np.abs(losses - reference) / scale))
    short = {
        "steps": s.sac_steps,
        "warmup_steps": s.sac_steps // 6,
        "batch_size": min(s.batch, s.sac_steps // 6),
        "critic_width": s.sac_width,
        "actor_width": s.sac_width,
    }
    group = _group(s.seeds, **short)
    returns = _final_returns(group, cpu)
    other = returns if on_cpu else _final_returns(group, None)
    p = float(stats.ttest_ind(returns, other, equal_var=False).pvalue)
    return {
        "first_update_max_rel_diff": first,
        "first_update_ok": first["highest"] <= 1e-4,
        # p is nan when both sides are identical (the smoke run's "device" is the CPU)
        "short_run": {"cpu": returns, "device": other, "welch_p": p},
        "short_run_agree": bool(p >= AGREE_P or np.isnan(p)),
    }


def _timed(group: Group, peak: float) -> dict[str, float]:
    result = run_group(group, progress=False)
    loop = group.loop
    updates = updates_after(loop, loop.n_chunks * loop.iterations_per_chunk)
    total = updates * len(group.runs) / result.train_seconds
    return {
        "compile_s": result.compile_seconds,
        "train_s": result.train_seconds,
        "updates_per_s_per_run": total / len(group.runs),
        "updates_per_s": total,
        "achieved_tflops": result.flops_per_update * total / 1e12,
        "mfu": result.flops_per_update * total / peak,
    }


def scaling(s) -> dict[str, Any]:
    keys = {"critic_width": s.width, "actor_width": s.width, "batch_size": s.batch, "utd": 1}
    keys |= {"steps": s.steps, "warmup_steps": s.warmup, "eval_every": s.steps, "eval_episodes": 1}
    peaks = {level: matmul_flops_per_second(s.matmul, level=level) for level in s.levels}
    groups = {n: _timed(_group(n, **keys), peaks["highest"]) for n in s.groups}
    levels = {"highest": groups[s.level_group]}
    for level in s.levels[1:]:
        levels[level] = _timed(_group(s.level_group, **keys, matmul_precision=level), peaks[level])
    wide = 64 if 64 in groups else max(groups)
    return {
        "groups": groups,
        "wall_ratio": {f"{wide}/1": groups[wide]["train_s"] / groups[1]["train_s"]},
        "matmul_tflops": {level: peak / 1e12 for level, peak in peaks.items()},
        "levels": levels,
    }


def _bare_env(name: str, copies: int, steps: int, limit: int) -> dict[str, float]:
    """Steps/s of the env alone: `copies` copies stepped with random actions in one scan."""
    from rlscale import envs

    env = envs.make(name, limit, 0)

    def run(key):
        states = jax.vmap(reset_episode, (None, 0))(env, jax.random.split(key, copies))

        def body(states, key):
            actions = jax.random.uniform(key, (copies, env.action_size), minval=-1, maxval=1)
            keys = jax.random.split(key, copies)
            states, _ = jax.vmap(step_episode, (None, 0, 0, 0))(env, states, actions, keys)
            return states, None

        return jax.lax.scan(body, states, jax.random.split(key, steps // copies))[0].obs

    start = time.perf_counter()
    compiled = jax.jit(run).lower(jax.random.key(0)).compile()
    compile_s = time.perf_counter() - start
    compiled(jax.random.key(1)).block_until_ready()
    start = time.perf_counter()
    compiled(jax.random.key(2)).block_until_ready()
    return {"compile_s": compile_s, "steps_per_s": steps / (time.perf_counter() - start)}


def envs_in_loop(s) -> dict[str, Any]:
    """The loop's time includes its one eval episode, kept short (max_episode_steps) beside the
    env_steps / env_copies iterations."""
    out = {}
    for name in s.envs:
        bare = _bare_env(name, s.env_copies, s.env_steps, s.episode)
        keys = {"env": name, "n_envs": s.env_copies, "steps": s.env_steps, "eval_episodes": 1}
        keys |= {"eval_every": s.env_steps, "utd": 1 / 16, "batch_size": s.batch}
        keys |= {"warmup_steps": max(s.batch, s.env_copies), "critic_width": s.width}
        keys |= {"actor_width": s.width, "max_episode_steps": s.episode}
        result = run_group(_group(1, **keys), progress=False)
        loop_rate = s.env_steps / result.train_seconds
        out[name] = {
            "bare": bare,
            "loop": {"compile_s": result.compile_seconds, "steps_per_s": loop_rate, "utd": 1 / 16},
            "loop_over_bare": loop_rate / bare["steps_per_s"],
        }
    return out


def memory(s) -> dict[str, Any]:
    keys = {"agent": "simbav2", "critic_width": s.simba_width, "buffer_size": s.simba_buffer}
    keys |= {"steps": 2 * s.batch, "warmup_steps": s.batch, "batch_size": s.batch}
    keys |= {"eval_every": s.batch, "eval_episodes": 1}
    budget = execute.memory_budget(s.memory_gb)
    probe = _group(1, **keys)
    many = _group(1 << 16, **keys)  # more runs than any device holds: the planner splits it
    planned = len(split_groups([many], budget)[0].runs)
    tried = {}
    for n in [planned * 2**i for i in range(s.probes)]:
        try:
            run_group(_group(n, **keys), progress=False)
            tried[n] = "ran"
        except Exception as error:  # the device ran out of memory: the bracket's top
            tried[n] = f"{type(error).__name__}: {str(error)[:160]}"
            break
    ran = [n for n, what in tried.items() if what == "ran"]
    return {
        "budget_gib": budget / 2**30,
        "run_bytes": run_bytes(probe),
        "planned": planned,
        "tried": tried,
        "largest_ran": max(ran, default=0),
    }


SECTIONS = (correctness, scaling, envs_in_loop, memory)  # device_check.SECTION_NAMES


def table(data: dict[str, Any]) -> str:
    """The markdown summary of whatever sections are done."""
    lines = [f"# Device check: {data['device']} (deterministic={data['deterministic']})", ""]
    if "correctness" in data:
        c = data["correctness"]
        lines += ["| precision | first-update max rel. diff vs CPU |", "| --- | --- |"]
        lines += [f"| {k} | {v:.2e} |" for k, v in c["first_update_max_rel_diff"].items()]
        short, agree = c["short_run"], "agree" if c["short_run_agree"] else "DIFFER"
        lines += [
            "",
            f"Short SAC run, final returns: CPU {np.mean(short['cpu']):.1f}, device "
            f"{np.mean(short['device']):.1f}; Welch p = {short['welch_p']:.3f} "
            f"({agree} at p >= {AGREE_P}).",
            "",
        ]
    if "scaling" in data:
        sc = data["scaling"]
        lines += ["| runs | updates/s per run | updates/s | TFLOP/s | MFU | compile s |"]
        lines += ["| --- | --- | --- | --- | --- | --- |"]
        for n, r in sc["groups"].items():
            lines.append(
                f"| {n} | {r['updates_per_s_per_run']:,.0f} | {r['updates_per_s']:,.0f} | "
                f"{r['achieved_tflops']:.3g} | {r['mfu']:.1%} | {r['compile_s']:.1f} |"
            )
        ratio = ", ".join(f"{k}: {v:.2f}" for k, v in sc["wall_ratio"].items())
        lines += ["", f"Wall ratio {ratio} (goal <= 2).", "", "| precision | updates/s | MFU |"]
        lines += ["| --- | --- | --- |"]
        lines += [
            f"| {k} | {v['updates_per_s']:,.0f} | {v['mfu']:.1%} |" for k, v in sc["levels"].items()
        ]
    if "envs_in_loop" in data:
        lines += ["", "| env | bare steps/s | in-loop steps/s | ratio | compile s (bare, loop) |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        for name, e in data["envs_in_loop"].items():
            bare, loop = e["bare"], e["loop"]
            lines.append(
                f"| {name} | {bare['steps_per_s']:,.0f} | {loop['steps_per_s']:,.0f} | "
                f"{e['loop_over_bare']:.0%} | {bare['compile_s']:.1f}, {loop['compile_s']:.1f} |"
            )
    if "memory" in data:
        m = data["memory"]
        lines += [
            "",
            f"Memory: planner plans {m['planned']} runs per device "
            f"({m['run_bytes'] / 2**20:.1f} MiB state each, budget {m['budget_gib']:.1f} GiB); "
            f"largest that ran: {m['largest_ran']} (tried {list(m['tried'])}).",
        ]
    if data["skipped"]:
        lines += ["", f"Skipped (time budget or --only): {', '.join(data['skipped'])}."]
    for section, error in data["failed"].items():
        lines += ["", f"FAILED {section}: {error}"]
    return "\n".join(lines)
