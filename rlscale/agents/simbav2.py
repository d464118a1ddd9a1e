"""SimbaV2 (Lee et al. 2025, "Hyperspherical Normalization for Scalable Deep RL"): SAC with
hyperspherical actor and critic (rlscale.nets.simbav2), a C51 critic on a fixed [-5, 5] support,
observation RSNorm, running-return reward scaling, weight projection after every step and a linear
learning-rate decay.

Defaults: `dojeon-ai/SimbaV2` `configs/agent/simbaV2.yaml` (science/agents.md section 4.8). The
update is SAC's (`make_sac`) with `actor_first=True`, wrapped as the official agent wrappers wrap it
(`scale_rl/agents/wrappers/normalization.py`, section 4.6): the statistics of the env stream live
in the state and are updated by the agent's `Observer` once per env step, warm-up included; `act`
and `update` read them, and the replay buffer keeps raw observations and rewards.

Where the statistics are updated differs from the official loop by one step: the official wrapper
updates them in `sample_actions` with the previous transition before acting, here the training
drivers call the observer after the env step, with the observation the policy acted on and that
step's reward and done. So an action is normalised with statistics up to the previous observation,
and an update sees the reward of its own env step in the return statistics (the host driver, which
batches updates per block of env steps, lags by up to one block).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rlscale.agents.base import Agent, Observer
from rlscale.agents.normalization import (
    ReturnStats,
    RunningMeanStd,
    init_returns,
    init_running,
    normalize,
    reward_scale,
    update_returns,
    update_running,
)
from rlscale.agents.sac import SACConfig, SACHParams, SACState, make_sac
from rlscale.types import Params, PRNGKey, Transition


@dataclasses.dataclass(frozen=True)
class SimbaV2Config(SACConfig):
    """SACConfig with SimbaV2's defaults."""

    critic_width: int = 512  # critic hidden width d_h (block MLP inner width 4 d_h)
    critic_depth: int = 2  # critic LERP blocks
    actor_width: int = 128
    actor_depth: int = 1  # actor LERP blocks
    critic_net: str = "simbav2"
    actor_net: str = "simbav2"
    value_loss: str = "c51"
    v_min: float = -5.0  # = -normalized_g_max
    v_max: float = 5.0
    n_bins: int = 101
    target_rule: str = "min"  # CDQ (SimbaV2 turns it on for episodic MuJoCo/HBench, off for DMC)
    actor_log_std: str = "tanh"
    reward_scaling: bool = True  # r / max(std(G), max|G| / g_max), G the running return
    reward_g_max: float = 5.0  # normalized_g_max
    obs_norm: bool = True  # RSNorm: (o - mean) / sqrt(var + 1e-8) with running moments
    actor_first: bool = True
    temperature_on_log_alpha: bool = False  # alpha * (H - H_bar)


class SimbaV2HParams(NamedTuple):
    """SACHParams fields with SimbaV2's defaults (same names, so the SAC update reads them)."""

    learning_rate: float = 1e-4  # initial lr, Adam (actor, critic, temperature)
    gamma: float = 0.99  # DMC heuristic value (MuJoCo 0.995)
    tau: float = 0.005
    target_entropy_scale: float = 0.5  # H_bar = -0.5 dim(A)
    init_temperature: float = 0.01
    final_learning_rate: float = 5e-5  # linear decay end
    lr_decay_updates: float = -1.0  # the run's total updates (official: exactly that)


class SimbaV2Params(NamedTuple):
    """What `act` needs: the actor and the observation statistics it normalises with."""

    actor: Params
    obs_stats: RunningMeanStd


class SimbaV2State(NamedTuple):
    sac: SACState
    obs_stats: RunningMeanStd  # of every training observation the policy was given
    return_stats: ReturnStats  # of the running discounted return of each env copy

    @property
    def params(self) -> SimbaV2Params:
        return SimbaV2Params(self.sac.actor_params, self.obs_stats)


def make_simbav2(config: SimbaV2Config, hparams: SimbaV2HParams = SimbaV2HParams()) -> Agent:
    """SimbaV2 = SAC's update with the SimbaV2 networks, loss and order named in `config`, on
    normalised observations and scaled rewards."""
    # The SAC core sees already-scaled rewards; the scaling itself lives here.
    sac_config = dataclasses.replace(config, reward_scaling=False)
    sac = make_sac(sac_config, SACHParams(**hparams._asdict()))

    def norm_obs(stats: RunningMeanStd, obs: jax.Array) -> jax.Array:
        return normalize(stats, obs) if config.obs_norm else obs

    def scale(state: SimbaV2State) -> jax.Array:
        if not config.reward_scaling:
            return jnp.ones(())
        return reward_scale(state.return_stats, config.reward_g_max)

    def init(key: PRNGKey, hp: SimbaV2HParams | None = None) -> SimbaV2State:
        sac_state = sac.init(key, hp if hp is not None else hparams)
        return SimbaV2State(sac_state, init_running((config.obs_size,)), init_returns())

    def act(params: SimbaV2Params, obs: jax.Array, key: PRNGKey, deterministic: bool) -> jax.Array:
        return sac.act(params.actor, norm_obs(params.obs_stats, obs), key, deterministic)

    def update(state: SimbaV2State, batch: Transition, key: PRNGKey):
        """SAC's update on a batch normalised with the current statistics (left unchanged)."""
        reward_divisor = scale(state)
        batch = batch._replace(
            obs=norm_obs(state.obs_stats, batch.obs),
            next_obs=norm_obs(state.obs_stats, batch.next_obs),
            reward=batch.reward / reward_divisor,
        )
        sac_state, metrics = sac.update(state.sac, batch, key)
        return state._replace(sac=sac_state), {**metrics, "critic/reward_scale": reward_divisor}

    def observer_init(state: SimbaV2State, n_envs: int) -> SimbaV2State:
        return state._replace(return_stats=init_returns(n_envs))

    def observe(state: SimbaV2State, transitions: Transition, done: jax.Array) -> SimbaV2State:
        """One env step of all copies: transitions [n_envs, ...], done [n_envs]."""
        gamma = state.sac.hparams.gamma
        return state._replace(
            obs_stats=update_running(state.obs_stats, transitions.obs),
            return_stats=update_returns(state.return_stats, transitions.reward, done, gamma),
        )

    def critic_param_count(state: SimbaV2State) -> int:
        return sac.critic_param_count(state.sac)

    return Agent(
        init, act, update, hparams, config, critic_param_count, Observer(observer_init, observe)
    )
