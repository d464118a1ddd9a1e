"""Statistics of the env stream around a SAC-family agent: SimbaV2's observation RSNorm and
running-return reward scaling, as the official agent wrappers apply them
(`dojeon-ai/SimbaV2` `scale_rl/agents/wrappers/normalization.py`; science/agents.md section 4.6).

Any SAC variant takes them as config keys (`obs_norm`, `reward_scaling`, `reward_g_max`): with
reward scaling the scaled return stays within ±g_max, so a categorical critic's fixed support
covers it whatever the task's reward scale. The statistics live in the agent state and are updated
by the agent's `Observer` once per env step, warm-up included; `act` and `update` read them, and
the replay buffer keeps raw observations and rewards.

Where the statistics are updated differs from the official loop by one step: the official wrapper
updates them in `sample_actions` with the previous transition before acting, here the training
drivers call the observer after the env step, with the observation the policy acted on and that
step's reward and done. So an action is normalised with statistics up to the previous observation,
and an update sees the reward of its own env step in the return statistics (the host driver, which
batches updates per block of env steps, lags by up to one block).
"""

from __future__ import annotations

from typing import Any, NamedTuple

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
from rlscale.agents.options import RewardScaling
from rlscale.agents.variants import REWARD_SCALING
from rlscale.types import Params, PRNGKey, Transition


class StreamParams(NamedTuple):
    """What `act` needs: the actor and the observation statistics it normalises with."""

    actor: Params
    obs_stats: RunningMeanStd


class StreamState(NamedTuple):
    sac: Any  # the wrapped agent's state (its `hparams.gamma` discounts the running return)
    obs_stats: RunningMeanStd  # of every training observation the policy was given
    return_stats: ReturnStats  # of the running discounted return of each env copy

    @property
    def params(self) -> StreamParams:
        return StreamParams(self.sac.actor_params, self.obs_stats)


def with_stream_statistics(core: Agent, config: Any, hparams: NamedTuple) -> Agent:
    """`core` (which must see neither) on normalised observations and scaled rewards.

    Args:
        core: a SAC-family agent over raw inputs.
        config: its static config, with obs_size, obs_norm, reward_scaling and reward_g_max.
        hparams: the defaults the returned agent exposes (`core`'s field names).
    """

    scaling = REWARD_SCALING.build(config)  # reward_g_max read only when scaling

    def norm_obs(stats: RunningMeanStd, obs: jax.Array) -> jax.Array:
        return normalize(stats, obs) if config.obs_norm else obs

    def scale(state: StreamState) -> jax.Array:
        if not isinstance(scaling, RewardScaling):
            return jnp.ones(())
        return reward_scale(state.return_stats, scaling.reward_g_max)

    def init(key: PRNGKey, hp: NamedTuple | None = None) -> StreamState:
        inner = core.init(key, hp if hp is not None else hparams)
        return StreamState(inner, init_running((config.obs_size,)), init_returns())

    def act(params: StreamParams, obs: jax.Array, key: PRNGKey, deterministic: bool) -> jax.Array:
        return core.act(params.actor, norm_obs(params.obs_stats, obs), key, deterministic)

    def update(state: StreamState, batch: Transition, key: PRNGKey):
        """The core's update on a batch normalised with the current statistics (left unchanged)."""
        reward_divisor = scale(state)
        batch = batch._replace(
            obs=norm_obs(state.obs_stats, batch.obs),
            next_obs=norm_obs(state.obs_stats, batch.next_obs),
            reward=batch.reward / reward_divisor,
        )
        inner, metrics = core.update(state.sac, batch, key)
        return state._replace(sac=inner), {**metrics, "critic/reward_scale": reward_divisor}

    def observer_init(state: StreamState, n_envs: int) -> StreamState:
        return state._replace(return_stats=init_returns(n_envs))

    def observe(state: StreamState, transitions: Transition, done: jax.Array) -> StreamState:
        """One env step of all copies: transitions [n_envs, ...], done [n_envs]."""
        gamma = state.sac.hparams.gamma
        return state._replace(
            obs_stats=update_running(state.obs_stats, transitions.obs),
            return_stats=update_returns(state.return_stats, transitions.reward, done, gamma),
        )

    def critic_param_count(state: StreamState) -> int:
        return core.critic_param_count(state.sac)

    observer = Observer(observer_init, observe)
    return Agent(init, act, update, hparams, config, critic_param_count, observer)
