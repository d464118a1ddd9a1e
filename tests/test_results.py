"""The metrics registry (`rlscale.results.METRICS`): every name a trainer writes is documented
there, and the drivers refuse one that is not."""

import jax
import pytest
from agent_checks import ACT, OBS, make_batch

from rlscale.agents.registry import AGENTS, make
from rlscale.config import load_run_config
from rlscale.results import METRICS
from rlscale.training import records
from rlscale.training.group import group_runs, seed_runs

TINY = {"critic_width": 8, "actor_width": 8}


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_metric_an_agent_emits_is_registered(name):
    """Catches: an agent logging a new metric without documenting it (traced, not compiled)."""
    agent = make(name, obs_size=OBS, action_size=ACT, **TINY)
    key = jax.random.key(0)

    def update(key):
        state = agent.init(key, agent.hparams)
        if agent.observer is not None:
            state = agent.observer.init(state, 1)
        return agent.update(state, make_batch(key), key)[1]

    emitted = set(jax.eval_shape(update, key))
    assert emitted and emitted <= set(METRICS), emitted - set(METRICS)


def test_the_drivers_refuse_an_unregistered_metric():
    """Catches: rows written for a misspelt name that no analysis would ever read."""
    (group,) = group_runs(seed_runs(load_run_config(None, {"steps": 100, "eval_every": 50}), 1))
    extra = {"compute/flops_per_update": 1.0, "model/critic_params": 1.0}
    assert records.rows(group, {"critic/loss": [0.5]}, 50, 50, 0.1, extra)
    with pytest.raises(ValueError, match="critic/losss"):
        records.rows(group, {"critic/losss": [0.5]}, 50, 50, 0.1, extra)
