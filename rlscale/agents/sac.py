"""Soft Actor-Critic (Haarnoja et al. 2018) with clipped double-Q, as pure functions.

Defaults follow SBX SAC (science/agents.md section 2.1). The critic network and the value loss are
components chosen by name, so the same update serves MSE, categorical and quantile critics.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rlscale.agents.base import Agent, adam, apply_gradients, count_params
from rlscale.losses.policy import sac_actor_loss, temperature_loss
from rlscale.losses.td import global_norm, polyak, td_target
from rlscale.losses.value import make_value_head, select_pessimistic
from rlscale.nets.mlp import MLP, Critic, make_ensemble
from rlscale.nets.policy import TanhGaussianActor, sample_tanh_gaussian
from rlscale.types import Params, PRNGKey, Transition


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Static, shape-setting configuration (hashable; changing it means a new compiled program)."""

    obs_size: int
    action_size: int
    critic_width: int = 256  # hidden units per critic layer (N scales with width^2)
    critic_depth: int = 2  # hidden layers per critic
    actor_width: int = 256
    actor_depth: int = 2
    n_critics: int = 2  # ensemble size; the target takes the pessimistic member
    critic_layer_norm: bool = False  # LayerNorm before each critic activation
    value_loss: str = "mse"  # a name in rlscale.losses.value.HEADS
    temperature_on_log_alpha: bool = True  # SBX form log(alpha)*(H-H_bar); False: alpha*(H-H_bar)


class SACHParams(NamedTuple):
    """Scalar hyperparameters: array leaves, vmappable across runs of one compiled program."""

    learning_rate: float = 3e-4  # actor, critic and temperature (Adam)
    gamma: float = 0.99  # discount
    tau: float = 0.005  # Polyak rate of the target critic, every update
    target_entropy_scale: float = 1.0  # H_bar = -scale * action_size
    init_temperature: float = 1.0  # alpha at step 0


class SACState(NamedTuple):
    actor_params: Params
    critic_params: Params
    target_critic_params: Params
    log_alpha: jax.Array
    actor_opt_state: object
    critic_opt_state: object
    alpha_opt_state: object
    hparams: SACHParams
    step: jax.Array

    @property
    def params(self) -> Params:
        """What `act` needs: the actor's variables."""
        return self.actor_params


def make_sac(config: SACConfig, hparams: SACHParams = SACHParams()) -> Agent:
    """Build SAC's pure functions for `config`; `hparams` are the defaults `init` falls back on."""
    head = make_value_head(config.value_loss)
    actor = TanhGaussianActor(MLP(config.actor_width, config.actor_depth), config.action_size)
    critic_torso = MLP(config.critic_width, config.critic_depth, layer_norm=config.critic_layer_norm)
    critic = make_ensemble(Critic, config.n_critics)(critic_torso, head.n_outputs)
    optimizer = adam()

    def init(key: PRNGKey, hp: SACHParams | None = None) -> SACState:
        hp = jax.tree.map(jnp.asarray, hp if hp is not None else hparams)
        key_actor, key_critic = jax.random.split(key)
        obs = jnp.zeros((1, config.obs_size))
        action = jnp.zeros((1, config.action_size))
        actor_params = actor.init(key_actor, obs)
        critic_params = critic.init(key_critic, obs, action)
        log_alpha = jnp.log(hp.init_temperature)
        return SACState(
            actor_params, critic_params, critic_params, log_alpha,
            optimizer.init(actor_params), optimizer.init(critic_params), optimizer.init(log_alpha),
            hp, jnp.zeros((), jnp.int32),
        )  # fmt: skip

    def act(params: Params, obs: jax.Array, key: PRNGKey, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(params, obs)
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(mean, log_std, key)[0]

    def sample(params: Params, obs: jax.Array, key: PRNGKey) -> tuple[jax.Array, jax.Array]:
        return sample_tanh_gaussian(*actor.apply(params, obs), key)

    def critic_step(state: SACState, batch: Transition, key: PRNGKey):
        hp, alpha = state.hparams, jnp.exp(state.log_alpha)
        next_action, next_log_prob = sample(state.actor_params, batch.next_obs, key)
        next_outputs = select_pessimistic(
            head, critic.apply(state.target_critic_params, batch.next_obs, next_action)
        )
        bonus = -alpha * next_log_prob
        target = jax.lax.stop_gradient(
            head.target(next_outputs, batch.reward, hp.gamma, batch.terminated, bonus)
        )
        y = td_target(batch.reward, hp.gamma, batch.terminated, head.value(next_outputs) + bonus)

        def loss_fn(params):
            outputs = critic.apply(params, batch.obs, batch.action)  # [n_critics, B, n_outputs]
            per_sample = jax.vmap(head.loss, in_axes=(0, None))(outputs, target)
            return per_sample.mean(axis=1).sum(), head.value(outputs)

        (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic_params)
        params, opt_state = apply_gradients(
            optimizer, state.critic_opt_state, state.critic_params, grads, hp.learning_rate
        )
        metrics = {
            "critic/loss": loss,
            "critic/td_error": jnp.mean(jnp.abs(q - jax.lax.stop_gradient(y))),
            "critic/q_mean": jnp.mean(q),
        }
        return state._replace(critic_params=params, critic_opt_state=opt_state), metrics

    def actor_step(state: SACState, batch: Transition, key: PRNGKey):
        alpha = jnp.exp(state.log_alpha)

        def loss_fn(params):
            action, log_prob = sample(params, batch.obs, key)
            q = head.value(critic.apply(state.critic_params, batch.obs, action)).min(axis=0)
            return sac_actor_loss(log_prob, q, alpha), -jnp.mean(log_prob)

        (loss, entropy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.actor_params)
        params, opt_state = apply_gradients(
            optimizer, state.actor_opt_state, state.actor_params, grads,
            state.hparams.learning_rate,
        )  # fmt: skip
        state = state._replace(actor_params=params, actor_opt_state=opt_state)
        return state, {"actor/loss": loss, "actor/entropy": entropy}

    def temperature_step(state: SACState, entropy: jax.Array):
        hp = state.hparams
        target_entropy = -hp.target_entropy_scale * config.action_size
        grad = jax.grad(temperature_loss)(
            state.log_alpha, entropy, target_entropy, config.temperature_on_log_alpha
        )
        log_alpha, opt_state = apply_gradients(
            optimizer, state.alpha_opt_state, state.log_alpha, grad, hp.learning_rate
        )
        return state._replace(log_alpha=log_alpha, alpha_opt_state=opt_state)

    def update(state: SACState, batch: Transition, key: PRNGKey):
        key_critic, key_actor = jax.random.split(key)
        state, critic_metrics = critic_step(state, batch, key_critic)
        state, actor_metrics = actor_step(state, batch, key_actor)
        state = temperature_step(state, actor_metrics["actor/entropy"])
        target = polyak(state.target_critic_params, state.critic_params, state.hparams.tau)
        state = state._replace(target_critic_params=target, step=state.step + 1)
        metrics = {
            **critic_metrics,
            **actor_metrics,
            "actor/temperature": jnp.exp(state.log_alpha),
            "critic/param_norm": global_norm(state.critic_params),
        }
        return state, metrics

    def critic_param_count(state: SACState) -> int:
        return count_params(state.critic_params) // config.n_critics

    return Agent(init, act, update, hparams, config, critic_param_count)
