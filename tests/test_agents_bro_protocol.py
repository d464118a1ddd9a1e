"""BRO's protocol details against the official code (science/agents.md 7): the optimism bonus
per quantile, AdamW for the optimistic actor, the log sigma head's init, no action repeat on DMC."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlscale.agents.bro import optimistic_value
from rlscale.agents.registry import make
from rlscale.config import ConfigError, load_run_config


def test_the_optimism_bonus_is_the_mean_disagreement_over_quantiles():
    """Catches: |mean Z1 - mean Z2| in place of mean_j |Z1_j - Z2_j| (zero here)."""
    quantiles = jnp.array([[[0.0, 4.0]], [[2.0, 2.0]]])  # two critics, one state, two quantiles
    # Both critics have mean 2. mean_j |Z1_j - Z2_j| = (|0 - 2| + |4 - 2|) / 2 = 2, so
    # Q_ub = 2 + beta * 2 / 2 = 2 + beta: 2.5 at beta = 0.5.
    np.testing.assert_allclose(optimistic_value(quantiles, 0.5), [2.5])
    np.testing.assert_allclose(optimistic_value(quantiles, 0.0), [2.0])


def test_optimistic_actor_uses_adamw_and_log_sigma_head_has_gain_one():
    """Catches: Adam for the optimistic actor (official: optax.adamw, weight decay 1e-4), and the
    log sigma head initialised like the mean head (orthogonal sqrt(2); official orthogonal(1.0))."""
    agent = make("bro", obs_size=3, action_size=2, critic_width=16, actor_width=16)
    state = jax.jit(agent.init)(jax.random.key(0))  # compiled: eager init takes 15 s on a CPU
    assert state.optimistic_opt_state.hyperparams["weight_decay"] == 1e-4
    heads = state.sac.actor_params["params"]
    # An orthogonal [16, 2] kernel of gain g has K^T K = g^2 I.
    gram = {
        name: heads[name]["kernel"].T @ heads[name]["kernel"] for name in ("Dense_0", "Dense_1")
    }
    np.testing.assert_allclose(gram["Dense_0"], 2.0 * np.eye(2), atol=1e-5)  # mean head, sqrt(2)
    np.testing.assert_allclose(gram["Dense_1"], np.eye(2), atol=1e-5)  # log sigma head, 1


def test_bro_preset_runs_dmc_without_action_repeat():
    """BRO's `train_parallel.py` steps DMC with no action repeat (the DMC family default is 2)."""
    assert load_run_config("agents/bro.yaml", {"env": "dmc:cheetah-run"})["action_repeat"] == 1
    assert load_run_config("agents/bro.yaml", {"env": "jax:pendulum"})["action_repeat"] == 0


def test_n_counts_both_critics_as_p2_does():
    """P2's BRO on h1 (obs 51 + action 19) at width 512 has N = 2,286,792 (`w512p2286792` in the
    published data, scaling_laws.md section 5): both critics with their 100-quantile heads.
    Catches: N counted for one critic (1,143,396)."""
    agent = make("bro", obs_size=51, action_size=19, critic_width=512)
    state = jax.eval_shape(agent.init, jax.random.key(0))
    assert agent.critic_param_count(state) == 2_286_792


def test_optimism_settings_are_refused_without_the_optimistic_actor():
    """bro_minimal has no optimistic actor: its KL target and duals would do nothing."""
    with pytest.raises(ConfigError, match=r"kl_target is read only when optimistic=true"):
        load_run_config("agents/bro_minimal.yaml", {"kl_target": 0.1})
