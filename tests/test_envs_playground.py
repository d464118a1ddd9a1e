"""MuJoCo Playground DMC family: names, the JaxEnv it builds, and (slow: MJX on CPU compiles for
minutes on a shared 2-core machine) stepping, action repeat, determinism and truncation."""

import jax
import jax.numpy as jnp
import pytest

from rlscale import envs
from rlscale.envs.base import reset_episode, step_episode

pytest.importorskip("mujoco_playground")


def test_names_validate_with_close_matches():
    envs.check_name("playground:CheetahRun")
    with pytest.raises(ValueError, match="playground:CheetahRun"):
        envs.check_name("playground:CheetaRun")
    assert not envs.is_host("playground:CheetahRun")


def test_make_builds_a_jax_env_with_family_defaults():
    env = envs.make("playground:CartpoleSwingup")
    assert isinstance(env, envs.JaxEnv)
    assert (env.obs_size, env.action_size, env.max_episode_steps) == (5, 1, 500)
    assert envs.make("playground:CartpoleSwingup", 40, action_repeat=4).max_episode_steps == 40


@pytest.mark.slow
def test_rollout_shapes_repeat_determinism_and_truncation():
    one = envs.make("playground:CartpoleSwingup", max_episode_steps=3, action_repeat=1)
    two = envs.make("playground:CartpoleSwingup", max_episode_steps=3, action_repeat=2)

    @jax.jit
    def rollout(key):
        def body(state, key):
            state, out = step_episode(two, state, jnp.full((1,), 0.5), key)
            return state, out

        return jax.lax.scan(body, reset_episode(two, key), jax.random.split(key, 4))[1]

    out = rollout(jax.random.key(0))
    assert out.next_obs.shape == (4, 5)
    assert list(out.truncated) == [0.0, 0.0, 1.0, 0.0] and not out.terminated.any()
    same = rollout(jax.random.key(0))
    assert jnp.array_equal(out.next_obs, same.next_obs)
    # Action repeat 2 = two single steps with the rewards summed.
    state, _ = one.reset(jax.random.key(1))
    state, _, r1, _ = one.step(state, jnp.full((1,), 0.5))
    state, obs, r2, _ = one.step(state, jnp.full((1,), 0.5))
    state2, _ = two.reset(jax.random.key(1))
    _, obs2, r, _ = two.step(state2, jnp.full((1,), 0.5))
    assert jnp.allclose(obs, obs2) and jnp.allclose(r, r1 + r2)
