"""Host env families (dm_control, Gymnasium): shapes, action rescaling, determinism, truncation
versus termination, process-parallel copies, and name validation."""

import numpy as np
import pytest

from rlscale import envs
from rlscale.envs.host import Episode, HostEnv, ProcessVectorEnv, VectorEnv, copy_seeds

HOST = ["dmc:cartpole-swingup", "gym:Pendulum-v1"]


@pytest.mark.parametrize("name", HOST)
def test_reset_step_shapes_and_dtypes(name):
    env = envs.make(name)
    assert isinstance(env, HostEnv) and envs.is_host(name)
    vector = VectorEnv(env, copy_seeds(0, 3, 0))
    obs = vector.observe()
    assert obs.shape == (3, env.obs_size) and obs.dtype == np.float32
    out, next_obs = vector.step(np.zeros((3, env.action_size)))
    assert out.next_obs.shape == next_obs.shape == (3, env.obs_size)
    for leaf in (out.reward, out.terminated, out.truncated, out.finished_return):
        assert leaf.shape == (3,) and leaf.dtype == np.float32


def test_dmc_defaults_and_action_rescaling():
    env = envs.make("dmc:walker-walk")
    assert (env.action_repeat, env.max_episode_steps) == (2, 500)  # 1000 control steps / 2
    raw = env.make_raw(0)
    raw.reset()
    raw.step(np.full(env.action_size, 5.0))  # clipped to 1 -> the actuator maximum
    np.testing.assert_allclose(raw.env.physics.data.ctrl, raw.high)
    raw.step(np.zeros(env.action_size))
    np.testing.assert_allclose(raw.env.physics.data.ctrl, (raw.low + raw.high) / 2)


def test_gym_action_rescaling_to_the_box():
    env = envs.make("gym:Pendulum-v1")
    assert (env.action_repeat, env.max_episode_steps) == (1, 200)
    raw = env.make_raw(0)
    raw.reset()
    raw.step(np.array([-1.0]))
    assert raw.env.unwrapped.last_u == pytest.approx(-2.0)  # Pendulum's torque bound is 2
    raw.step(np.array([0.25]))
    assert raw.env.unwrapped.last_u == pytest.approx(0.5)


@pytest.mark.parametrize("name", HOST)
def test_fixed_seed_rollout_is_deterministic(name):
    env = envs.make(name, max_episode_steps=7)
    runs = []
    for _ in range(2):
        vector = VectorEnv(env, copy_seeds(3, 2, 0))
        actions = np.random.default_rng(0).uniform(-1, 1, (20, 2, env.action_size))
        runs.append([vector.step(a) for a in actions])
    for (a, obs_a), (b, obs_b) in zip(*runs, strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    other = VectorEnv(env, copy_seeds(4, 2, 0)).observe()
    assert not np.array_equal(other, VectorEnv(env, copy_seeds(3, 2, 0)).observe())


@pytest.mark.parametrize("name", HOST)
def test_time_limit_is_truncation_with_the_true_final_obs(name):
    env = envs.make(name, max_episode_steps=5, action_repeat=2)
    episode = Episode(env, 0)
    rewards = []
    for _ in range(5):
        before = episode.obs
        out, obs = episode.step(np.ones(env.action_size) * 0.3)
        rewards.append(out.reward)
    assert (out.terminated, out.truncated) == (0.0, 1.0)
    assert out.finished_return == pytest.approx(sum(rewards))
    assert not np.array_equal(out.next_obs, obs)  # successor kept; obs is the fresh episode's
    assert episode.time == 0 and not np.array_equal(before, obs)


class ScriptedRaw:
    """A RawEnv that terminates (or truncates itself) at its `end`-th step; reward 1 per step."""

    def __init__(self, end: int, terminate: bool):
        self.end, self.terminate, self.t = end, terminate, 0

    def reset(self):
        self.t = 0
        return np.zeros(1, np.float32)

    def step(self, action):
        self.t += 1
        done = self.t >= self.end
        return (
            np.full(1, self.t, np.float32),
            1.0,
            done and self.terminate,
            done and not self.terminate,
        )


@pytest.mark.parametrize(("terminate", "expected"), [(True, (1.0, 0.0)), (False, (0.0, 1.0))])
def test_env_ended_episodes_keep_their_kind_and_stop_the_action_repeat(terminate, expected):
    env = HostEnv("test:scripted", 1, 1, 100, 2, lambda seed: ScriptedRaw(3, terminate))
    episode = Episode(env, 0)
    episode.step(np.zeros(1))  # raw steps 1, 2
    out, obs = episode.step(np.zeros(1))  # raw step 3 ends it: the repeat stops there
    assert (out.terminated, out.truncated) == expected
    assert out.reward == 1.0 and out.finished_return == 3.0
    assert out.next_obs[0] == 3.0 and obs[0] == 0.0


def test_gym_termination_is_reported_as_termination():
    env = envs.make("gym:Hopper-v5")
    vector = VectorEnv(env, [0])
    for _ in range(env.max_episode_steps):
        out, _ = vector.step(np.ones((1, env.action_size)))  # full torque topples the hopper
        if out.terminated[0] or out.truncated[0]:
            break
    assert (out.terminated[0], out.truncated[0]) == (1.0, 0.0)


def test_process_vector_matches_in_process_vector():
    env = envs.make("dmc:cartpole-swingup", max_episode_steps=4)
    seeds = copy_seeds(0, 3, 0)
    actions = np.random.default_rng(0).uniform(-1, 1, (6, 3, env.action_size))
    local = VectorEnv(env, seeds)
    remote = ProcessVectorEnv(env, seeds, workers=2)
    try:
        np.testing.assert_array_equal(local.observe(), remote.observe())
        for a in actions:
            (out_l, obs_l), (out_r, obs_r) = local.step(a), remote.step(a)
            np.testing.assert_array_equal(obs_l, obs_r)
            np.testing.assert_array_equal(out_l.next_obs, out_r.next_obs)
            np.testing.assert_array_equal(out_l.truncated, out_r.truncated)
    finally:
        remote.close()


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("dmc:cheetah-runn", "dmc:cheetah-run"),
        ("gym:HalfCheetah-v9", "gym:HalfCheetah-v5"),
        ("dcm:cheetah-run", "dmc:<name>"),
        ("cheetah-run", "gym:<name>"),
    ],
)
def test_unknown_names_list_families_and_close_matches(name, needle):
    with pytest.raises(ValueError, match="unknown") as error:
        envs.check_name(name)
    assert needle in str(error.value)
