"""CrossQ (Bhatt et al. 2024, ICLR, Sec. 3 and Alg. 1): SAC without target networks, BatchRenorm in
actor and critic, and one joint critic forward pass over (s, a) and (s', a') in training mode.

Defaults: official `adityab/CrossQ` `train.py -algo crossq` (science/agents.md section 3.5).
BatchRenorm statistics are "batch_stats" variables inside the actor/critic variables of the state,
so `vmap(update)` keeps one set per run.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from rlscale.agents.base import Agent, adam, apply_gradients, count_params
from rlscale.agents.domains import (
    AdamBeta,
    Discount,
    FiniteFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    one_of,
)
from rlscale.agents.variants import VALUE_LOSS
from rlscale.losses.policy import sac_actor_loss, temperature_loss
from rlscale.losses.td import global_norm, td_target
from rlscale.losses.value import HEADS, make_value_head, select_pessimistic
from rlscale.nets.batchrenorm import BRNMLP
from rlscale.nets.mlp import Critic, make_ensemble
from rlscale.nets.policy import TanhGaussianActor, sample_tanh_gaussian
from rlscale.types import Params, PRNGKey, Transition

ValueLoss = one_of(*HEADS)
# The saddle point's h needs a read-out that does not train the torso; the BatchRenorm critic
# has none, so CrossQ takes robust losses semi-gradient only.
RobustForm = one_of("semi_gradient")
Momentum = AdamBeta  # a running-average decay in [0, 1)


@dataclasses.dataclass(frozen=True)
class CrossQConfig:
    """Static configuration; defaults from the official CrossQ `train.py`."""

    obs_size: PositiveInt
    action_size: PositiveInt
    critic_width: PositiveInt = 2048  # the "wide critic" ([2048, 2048]; SBX uses 1024)
    critic_depth: PositiveInt = 2  # Dense-ReLU-BRN layers
    actor_width: PositiveInt = 256
    actor_depth: PositiveInt = 2
    n_critics: PositiveInt = 2  # the target takes the per-sample pessimistic member (CDQ)
    policy_delay: PositiveInt = 3  # critic updates per actor (and temperature) update
    bn_momentum: Momentum = 0.99  # BatchRenorm running-statistics momentum (train.py)
    renorm_warmup_steps: NonNegativeInt = 100_000  # BRN calls as BatchNorm before r/d clipping
    adam_b1: AdamBeta = 0.5  # actor and critic Adam beta1
    value_loss: ValueLoss = "mse"  # a name in rlscale.losses.value.HEADS
    v_min: FiniteFloat = -10.0  # categorical support, if value_loss is categorical
    v_max: FiniteFloat = 10.0
    n_bins: PositiveInt = 101
    robust: RobustForm = "semi_gradient"  # value_loss=huber: semi_gradient or saddle_point
    huber_delta: PositiveFloat = 1.0  # value_loss=huber: quadratic inside |TD error| <= this


class CrossQHParams(NamedTuple):
    learning_rate: PositiveFloat = 1e-3  # actor, critic and temperature
    gamma: Discount = 0.99
    target_entropy_scale: FiniteFloat = 1.0  # H_bar = -dim(A)
    init_temperature: PositiveFloat = 1.0


class CrossQState(NamedTuple):
    actor_variables: Params  # {"params", "batch_stats"}
    critic_variables: Params  # {"params", "batch_stats"}, leading ensemble axis
    log_alpha: jax.Array
    actor_opt_state: object
    critic_opt_state: object
    alpha_opt_state: object
    hparams: CrossQHParams
    step: jax.Array

    @property
    def params(self) -> Params:
        return self.actor_variables


def _networks(config: CrossQConfig, head_outputs: int, train: bool):
    def torso(width: int, depth: int) -> BRNMLP:
        return BRNMLP(width, depth, train, config.bn_momentum, config.renorm_warmup_steps)

    actor = TanhGaussianActor(torso(config.actor_width, config.actor_depth), config.action_size)
    ensemble = make_ensemble(Critic, config.n_critics, ("batch_stats",))
    return actor, ensemble(torso(config.critic_width, config.critic_depth), head_outputs)


def _where(flag: jax.Array, new, old):
    return jax.tree.map(lambda n, o: jnp.where(flag, n, o), new, old)


def make_crossq(config: CrossQConfig, hparams: CrossQHParams = CrossQHParams()) -> Agent:
    """Build CrossQ's pure functions for `config`."""
    head = make_value_head(config.value_loss, **VALUE_LOSS.build(config).head_options())
    actor_train, critic_train = _networks(config, head.n_outputs, train=True)
    actor_eval, critic_eval = _networks(config, head.n_outputs, train=False)
    optimizer, alpha_optimizer = adam(config.adam_b1), adam()

    def init(key: PRNGKey, hp: CrossQHParams | None = None) -> CrossQState:
        hp = jax.tree.map(jnp.asarray, hp if hp is not None else hparams)
        key_actor, key_critic = jax.random.split(key)
        obs, action = jnp.zeros((2, config.obs_size)), jnp.zeros((2, config.action_size))
        actor_variables = actor_train.init(key_actor, obs)
        critic_variables = critic_train.init(key_critic, obs, action)
        log_alpha = jnp.log(hp.init_temperature)
        return CrossQState(
            actor_variables,
            critic_variables,
            log_alpha,
            optimizer.init(actor_variables["params"]),
            optimizer.init(critic_variables["params"]),
            alpha_optimizer.init(log_alpha),
            hp,
            jnp.zeros((), jnp.int32),
        )

    def act(params: Params, obs: jax.Array, key: PRNGKey, deterministic: bool) -> jax.Array:
        mean, log_std = actor_eval.apply(params, obs)  # running BRN statistics
        if deterministic:
            return jnp.tanh(mean)
        return sample_tanh_gaussian(mean, log_std, key)[0]

    def critic_step(state: CrossQState, batch: Transition, key: PRNGKey):
        hp, alpha = state.hparams, jnp.exp(state.log_alpha)
        next_action, next_log_prob = act_with_log_prob(state.actor_variables, batch.next_obs, key)
        stats = state.critic_variables["batch_stats"]

        def loss_fn(params):
            # One train-mode pass over [s; s'] so BRN normalises both with the same statistics.
            outputs, new_vars = critic_train.apply(
                {"params": params, "batch_stats": stats},
                jnp.concatenate([batch.obs, batch.next_obs]),
                jnp.concatenate([batch.action, next_action]),
                mutable=["batch_stats"],
            )
            outputs, next_outputs = jnp.split(outputs, 2, axis=1)
            next_outputs = select_pessimistic(head, jax.lax.stop_gradient(next_outputs))
            bonus = -alpha * next_log_prob
            target = jax.lax.stop_gradient(
                head.target(next_outputs, batch.reward, hp.gamma, batch.terminated, bonus)
            )
            y = td_target(
                batch.reward, hp.gamma, batch.terminated, head.value(next_outputs) + bonus
            )
            loss = jax.vmap(head.loss, in_axes=(0, None))(outputs, target).mean(axis=1).sum()
            q = head.value(outputs)
            return loss, (new_vars["batch_stats"], jnp.mean(jnp.abs(q - y)), jnp.mean(q))

        params = state.critic_variables["params"]
        (loss, (stats, td_error, q_mean)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        params, opt_state = apply_gradients(
            optimizer, state.critic_opt_state, params, grads, hp.learning_rate
        )
        state = state._replace(
            critic_variables={"params": params, "batch_stats": stats}, critic_opt_state=opt_state
        )
        return state, {"critic/loss": loss, "critic/td_error": td_error, "critic/q_mean": q_mean}

    def act_with_log_prob(variables: Params, obs: jax.Array, key: PRNGKey):
        return sample_tanh_gaussian(*actor_eval.apply(variables, obs), key)

    def actor_step(state: CrossQState, batch: Transition, key: PRNGKey):
        """Actor in train mode (its BRN statistics update), critic in eval mode; then alpha.
        Computed every step but applied every `policy_delay`-th, so metrics are always real."""
        hp, alpha = state.hparams, jnp.exp(state.log_alpha)
        stats = state.actor_variables["batch_stats"]

        def loss_fn(params):
            (mean, log_std), new_vars = actor_train.apply(
                {"params": params, "batch_stats": stats}, batch.obs, mutable=["batch_stats"]
            )
            action, log_prob = sample_tanh_gaussian(mean, log_std, key)
            q = head.value(critic_eval.apply(state.critic_variables, batch.obs, action)).min(0)
            return sac_actor_loss(log_prob, q, alpha), (
                new_vars["batch_stats"],
                -jnp.mean(log_prob),
            )

        params = state.actor_variables["params"]
        (loss, (stats, entropy)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        params, opt_state = apply_gradients(
            optimizer, state.actor_opt_state, params, grads, hp.learning_rate
        )
        alpha_grad = jax.grad(temperature_loss)(
            state.log_alpha, entropy, -hp.target_entropy_scale * config.action_size, False
        )
        log_alpha, alpha_state = apply_gradients(
            alpha_optimizer, state.alpha_opt_state, state.log_alpha, alpha_grad, hp.learning_rate
        )
        # SBX/TD3 phase: after policy_delay critic updates (the 3rd, 6th, ... at delay 3).
        due = (state.step + 1) % config.policy_delay == 0
        new = ({"params": params, "batch_stats": stats}, opt_state, log_alpha, alpha_state)
        old = (state.actor_variables, state.actor_opt_state, state.log_alpha, state.alpha_opt_state)
        variables, opt_state, log_alpha, alpha_state = _where(due, new, old)
        state = state._replace(
            actor_variables=variables,
            actor_opt_state=opt_state,
            log_alpha=log_alpha,
            alpha_opt_state=alpha_state,
        )
        return state, {"actor/loss": loss, "actor/entropy": entropy}

    def update(state: CrossQState, batch: Transition, key: PRNGKey):
        key_critic, key_actor = jax.random.split(key)
        state, critic_metrics = critic_step(state, batch, key_critic)
        state, actor_metrics = actor_step(state, batch, key_actor)
        state = state._replace(step=state.step + 1)
        return state, {
            **critic_metrics,
            **actor_metrics,
            "actor/temperature": jnp.exp(state.log_alpha),
            "critic/param_norm": global_norm(state.critic_variables["params"]),
        }

    def critic_param_count(state: CrossQState) -> int:
        """Trainable parameters of one critic (BRN scale/bias included, running statistics not)."""
        return count_params(state.critic_variables["params"])

    return Agent(init, act, update, hparams, config, critic_param_count)
