"""Schedules inside the agents' updates, against numbers worked out by hand: the linear
learning-rate decay (rlscale/agents/sac.py `learning_rate`, SimbaV2's by default) and CrossQ's
policy delay (rlscale/agents/crossq.py `actor_step`). Both run the compiled single-run update of the
contract's cases (fixture `agent_runs`), so they compile nothing of their own: the hyperparameters
and the update counter are state leaves, set here to the values each check needs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from agent_checks import SAC_LEARNING_RATES, unstack


def like(leaf: jax.Array, value: float) -> jax.Array:
    """`value` with `leaf`'s dtype and weak type, so the compiled update takes it as it is."""
    return leaf * 0 + value


def injected_learning_rates(sac_state) -> list[float]:
    """The learning rate written into each optimiser (critic, actor, temperature) by its last step:
    rlscale.agents.base.apply_gradients puts it in the injected hyperparameters before the step."""
    opt_states = (sac_state.critic_opt_state, sac_state.actor_opt_state, sac_state.alpha_opt_state)
    return [float(s.hyperparams["learning_rate"]) for s in opt_states]


# lr(s) = 1e-4 + min(s / 1000, 1) * (1e-5 - 1e-4) = 1e-4 - 9e-8 s for s <= 1000, then 1e-5; s is
# the number of updates before this one (optax.linear_schedule's count). By hand:
DECAY_FROM = {  # first update's s -> the learning rate of three consecutive updates from there
    0: (1e-4, 9.991e-5, 9.982e-5),  # 1e-4 - 9e-8, 1e-4 - 1.8e-7
    499: (5.509e-5, 5.5e-5, 5.491e-5),  # 1e-4 - 4.491e-5, halfway: (1e-4 + 1e-5) / 2, ...
    999: (1.009e-5, 1e-5, 1e-5),  # the last decayed step, then the end value held
    1500: (1e-5, 1e-5, 1e-5),  # unclamped it would be 1e-4 - 1.35e-4 < 0
}


def test_simbav2_learning_rate_decays_linearly_then_holds(agent_runs):
    """SimbaV2's linear decay, 1e-4 -> 1e-5 over 1000 updates, read from the optimiser states
    after each of three consecutive updates (so the counter's increment drives it) starting at
    update counts 0, 499, 999 and 1500. Catches: the decay ignored (every update at 1e-4); an
    off-by-one in the counter (update s at lr(s + 1): 5.491e-5 at s = 500); no clamp at the end
    (9.91e-6 at s = 1001, negative at 1500); any of critic, actor or temperature left constant."""
    run = agent_runs["simbav2"]
    initial = unstack(run.states[0], 0)
    batch, hp = unstack(run.batches, 0), initial.sac.hparams
    hp = hp._replace(
        learning_rate=like(hp.learning_rate, 1e-4),
        final_learning_rate=like(hp.final_learning_rate, 1e-5),
        lr_decay_updates=like(hp.lr_decay_updates, 1000.0),
    )
    for start, expected in DECAY_FROM.items():
        sac = initial.sac._replace(hparams=hp, step=like(initial.sac.step, start))
        state = initial._replace(sac=sac)
        for k, want in enumerate(expected):
            state, _ = run.update(state, batch, jax.random.key(k))
            assert int(state.sac.step) == start + k + 1
            np.testing.assert_allclose(
                injected_learning_rates(state.sac), [want] * 3, rtol=1e-5, err_msg=f"s={start + k}"
            )


def test_sac_learning_rate_is_constant_without_decay(agent_runs):
    """SAC's default lr_decay_updates = 0 means a constant rate: each run of the vmapped sweep
    updates at its own learning rate at both updates. Catches: the decay switched on at 0 updates
    (`lr_decay_updates >= 0`: the second update at final_learning_rate = 0); the swept learning
    rate not reaching the optimisers (every run at the default 3e-4)."""
    run = agent_runs["sac"]
    for states in run.states[1:]:
        for i, lr in enumerate(SAC_LEARNING_RATES):
            np.testing.assert_allclose(injected_learning_rates(unstack(states, i)), [lr] * 3)


def actor_side(state) -> tuple:
    """What CrossQ's delayed step writes: the actor's params and BRN statistics, its optimiser,
    the temperature and its optimiser."""
    return state.actor_variables, state.actor_opt_state, state.log_alpha, state.alpha_opt_state


def bit_identical(a, b) -> bool:
    leaves = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(np.array_equal(x, y) for x, y in leaves)


@pytest.fixture(scope="module")
def crossq_six_updates(agent_runs):
    """Seven states: a fresh CrossQ state (policy_delay 3) and the states after each of six
    updates of the compiled single-run update, on one batch with a new key each time."""
    run = agent_runs["crossq"]
    assert run.agent.config.policy_delay == 3
    states, batch = [unstack(run.states[0], 0)], unstack(run.batches, 0)
    for k in range(6):
        states.append(run.update(states[-1], batch, jax.random.key(k))[0])
    return states


def moved(states) -> tuple[list[bool], list[bool]]:
    """Per update: (did the actor side move, did every critic parameter leaf move)."""
    actor, critic = [], []
    for before, after in itertools.pairwise(states):
        actor.append(not bit_identical(actor_side(before), actor_side(after)))
        pairs = zip(
            jax.tree.leaves(before.critic_variables["params"]),
            jax.tree.leaves(after.critic_variables["params"]),
            strict=True,
        )
        critic.append(all(bool(jnp.any(x != y)) for x, y in pairs))
    return actor, critic


def test_crossq_actor_and_temperature_update_every_policy_delay(crossq_six_updates):
    """SBX 0.28.0 `sbx/crossq/crossq.py` (as TD3 and SB3): the actor and temperature update at
    update n (from 0) when (n + 1) % policy_delay == 0, i.e. after 3 critic updates first: of six
    updates with delay 3 the actor side moves at updates 3 and 6 (counting from 1) and is
    bit-identical across the others; the critic moves at every update. Catches: the delay ignored
    (the actor at every update); the phase off by one (`step % delay`: at 1 and 4); a mask that
    misses a part (the temperature or the BRN statistics moving between due updates)."""
    actor, critic = moved(crossq_six_updates)
    assert actor == [False, False, True, False, False, True]
    assert critic == [True] * 6
    for before, after in itertools.pairwise(crossq_six_updates[2:4]):  # a due update moves all
        assert float(after.log_alpha) != float(before.log_alpha)
        for part in ("params", "batch_stats"):
            pairs = zip(
                jax.tree.leaves(before.actor_variables[part]),
                jax.tree.leaves(after.actor_variables[part]),
                strict=True,
            )
            assert all(bool(jnp.any(x != y)) for x, y in pairs), part
