"""Our JAX Pendulum against Gymnasium's Pendulum-v1, step for step, and its episode bookkeeping."""

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from rlscale.envs import make
from rlscale.envs.base import reset_episode, step_episode


def test_pendulum_matches_gymnasium_dynamics_and_reward():
    env = make("jax:pendulum")
    reference = gym.make("Pendulum-v1").unwrapped
    reference.reset(seed=0)
    state = jnp.array([2.5, -0.7])  # start both from the same (theta, theta_dot)
    reference.state = np.array(state, dtype=np.float64)
    actions = np.random.default_rng(0).uniform(-1, 1, size=(50, 1)).astype(np.float32)
    step = jax.jit(env.step)
    for action in actions:
        state, obs, reward, terminated = step(state, jnp.asarray(action))
        ref_obs, ref_reward, ref_terminated, _, _ = reference.step(
            action * 2.0
        )  # torque in [-2, 2]
        np.testing.assert_allclose(obs, ref_obs, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(reward, ref_reward, rtol=1e-4, atol=1e-4)
        assert not bool(terminated) and not ref_terminated  # Pendulum never terminates


def test_time_limit_is_truncation_not_termination_and_resets():
    env = make("jax:pendulum", max_episode_steps=5)
    state = reset_episode(env, jax.random.key(0))
    action = jnp.zeros(1)
    outputs = []
    for i in range(6):
        state, out = step_episode(env, state, action, jax.random.key(i + 1))
        outputs.append(out)
    assert [float(o.truncated) for o in outputs] == [0, 0, 0, 0, 1, 0]
    assert all(float(o.terminated) == 0 for o in outputs)
    expected = sum(float(o.reward) for o in outputs[:5])
    np.testing.assert_allclose(float(outputs[4].finished_return), expected, rtol=1e-6)
    assert int(state.time) == 1  # a fresh episode began after the truncation


def test_reset_is_deterministic_per_key_and_in_range():
    env = make("jax:pendulum")
    (s1, o1), (_, o2) = env.reset(jax.random.key(3)), env.reset(jax.random.key(3))
    np.testing.assert_array_equal(o1, o2)
    assert abs(float(s1[0])) <= np.pi and abs(float(s1[1])) <= 1.0
    assert o1.shape == (env.obs_size,)
