"""Agent 'bro': what its reset re-initialises and keeps (the drivers schedule it:
tests/test_loop.py). The agent contract (vmap == separate, finite metrics, parameter count,
learning): tests/test_agents_contract.py, whose "bro" case these tests read."""

import jax
import numpy as np
import pytest
from agent_checks import BRO_RESET_AT as RESET_AT
from agent_checks import BRO_UPDATES as UPDATES


@pytest.fixture(scope="module")
def run(agent_runs):
    """Four updates of two runs, vmapped and one by one (the contract's "bro" case)."""
    return agent_runs["bro"]


def test_reset_reinitialises_everything_but_the_update_counts(run):
    """Regression: the reset re-initialised SACState.step to 0, which `update` copied into the
    schedule counter, so the first reset fired again every reset count updates forever."""
    trained = run.separate_states[0][-1]
    key = jax.random.key(7)
    reset, fresh = jax.jit(
        lambda s: (run.agent.resets.apply(s, key), run.agent.init(key, s.sac.hparams))
    )(trained)
    assert run.agent.resets.every_updates == RESET_AT
    assert int(reset.step) == UPDATES and int(reset.sac.step) == UPDATES
    leaves = lambda a, b: zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)  # noqa: E731
    same = lambda a, b: all(np.allclose(x, y, atol=1e-6) for x, y in leaves(a, b))  # noqa: E731
    assert same(reset.sac.critic_params, fresh.sac.critic_params)
    assert same(reset.optimistic_params, fresh.optimistic_params)
    assert same(reset.duals, fresh.duals)
    assert not same(trained.sac.critic_params, fresh.sac.critic_params)
