"""The agent contract, for every agent config in agent_checks.CASES (sac, crossq, sac_softmoe, bro,
simbav2): vmap(update) over runs equals the runs updated one by one, metrics are finite and
actions in [-1, 1] and the critic's parameter count equals its closed form. Each case's runs are
made once per session (fixture `agent_runs`), so its two compiles are shared with that agent's own
test file. That every preset learns is tests/test_agents_learning.py."""

import pytest
from agent_checks import (
    CASES,
    assert_critic_param_count,
    assert_finite_metrics_and_bounded_actions,
    assert_vmapped_equals_separate,
)


@pytest.fixture(scope="module", params=list(CASES))
def case(request, agent_runs):
    return request.param, agent_runs[request.param]


def test_vmapped_update_equals_separate_updates(case):
    name, run = case
    assert_vmapped_equals_separate(run, rtol=CASES[name].rtol, atol=CASES[name].atol)


def test_metrics_finite_and_actions_in_bounds(case):
    assert_finite_metrics_and_bounded_actions(case[1])


def test_critic_param_count_is_the_closed_form(case):
    assert_critic_param_count(case[1])
