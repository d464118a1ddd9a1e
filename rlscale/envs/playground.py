"""MuJoCo Playground's DMC suite (`playground:<Name>`, e.g. `playground:CheetahRun`) as a JaxEnv.

Runs on device inside the compiled loop. Playground 0.2.0 defaults to the MuJoCo Warp backend,
which targets NVIDIA GPUs; `impl="jax"` (MJX) is used everywhere so the same program runs on CPU
for tests. Action repeat is a `lax.scan` here (Playground leaves it to its Brax training wrapper);
rewards are summed over the repeats and masked after a termination. Playground's `done` marks
non-finite physics or a task's own termination: a termination. Time limits come from
rlscale.envs.base, in agent steps (Playground's 1000-step episode / action repeat by default).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlscale.envs.base import JaxEnv

DEFAULT_ACTION_REPEAT = 2  # as for dm_control on the host (SimbaV2's DMC setting)
CONTROL_STEPS = 1000  # Playground DMC `episode_length`


def playground_names() -> list[str]:
    from mujoco_playground import registry

    return sorted(registry.dm_control_suite.ALL_ENVS)


def make_playground(
    name: str, max_episode_steps: int | None = None, action_repeat: int = 0, impl: str = "jax"
) -> JaxEnv:
    """Wrap Playground env `name`; actions in [-1, 1] are rescaled to the actuator ranges."""
    from mujoco_playground import registry

    action_repeat = action_repeat or DEFAULT_ACTION_REPEAT
    env = registry.load(name, config_overrides={"impl": impl})
    ranges = jnp.asarray(env.mj_model.actuator_ctrlrange, jnp.float32)
    limited = jnp.asarray(env.mj_model.actuator_ctrllimited, bool)
    low = jnp.where(limited, ranges[:, 0], -1.0)
    high = jnp.where(limited, ranges[:, 1], 1.0)

    def reset(key: jax.Array):
        state = env.reset(key)
        return state, state.obs

    def step(state, action: jax.Array):
        ctrl = low + (jnp.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)

        def repeat(carry, _):
            state, total, alive = carry
            state = env.step(state, ctrl)
            return (state, total + alive * state.reward, alive * (1.0 - state.done)), None

        (state, reward, alive), _ = jax.lax.scan(
            repeat, (state, jnp.zeros(()), jnp.ones(())), None, length=action_repeat
        )
        return state, state.obs, reward, alive == 0

    steps = max_episode_steps or CONTROL_STEPS // action_repeat
    return JaxEnv(
        f"playground:{name}", int(env.observation_size), int(env.action_size), steps, reset, step
    )
