"""Agent resets scheduled in their source's unit and converted per run (σ, env copies, warm-up):
BRO's env-step schedule, P2's bro_minimal every 2.5M updates; every run records where it reset."""

import json

import pytest
import yaml
from agent_checks import CountConfig, CountHParams, make_counting_agent

from rlscale import config
from rlscale.agents import registry
from rlscale.sweeps import estimate, execute
from rlscale.sweeps.spec import load_sweep
from rlscale.training.group import group_runs, seed_runs
from rlscale.training.loop import reset_env_steps
from rlscale.training.train import train

PAPER = {"steps": 1_000_000, "eval_every": 25_000, "warmup_steps": 2500, "env": "jax:pendulum"}
# By hand from the rules (science/agents.md 7.5, scaling_laws.md 4.7), 1M env steps, 2500 warm-up:
# BRO resets after env steps 15001, 50001, 250001, 500001, 750001 (1000001 is past the run) at
# every σ but 2, and only after 15001 at σ = 2. bro_minimal resets after every 2.5M updates, at
# env step 2500 + k * 2.5e6 / σ: none at σ = 1 (2.5025e6) or 2 (1.2525e6), 627500 at σ = 4,
# 315000, 627500, 940000 at σ = 8.
BRO = (15001, 50001, 250001, 500001, 750001)
TABLE = {
    ("bro", 1): BRO,
    ("bro", 2): (15001,),
    ("bro", 4): BRO,
    ("bro", 8): BRO,
    ("bro_minimal", 1): (),
    ("bro_minimal", 2): (),
    ("bro_minimal", 4): (627500,),
    ("bro_minimal", 8): (315000, 627500, 940000),
}


def _group(preset: str, **keys):
    run = config.load_run_config(f"agents/{preset}.yaml", {**PAPER, "critic_width": 16, **keys})
    (group,) = group_runs(seed_runs(run, 1))
    return group


@pytest.mark.parametrize(("preset", "utd"), sorted(TABLE))
def test_reset_env_steps_follow_each_presets_published_schedule(preset, utd):
    """Catches: a schedule in fixed update counts (BRO's resets at σ = 10 update counts moved to
    other env steps at every other σ), bro_minimal's period not divided by σ, the σ = 2 rule."""
    group = _group(preset, utd=utd)
    assert reset_env_steps(group.loop, group.env_and_agent()[1]) == TABLE[preset, utd]


def test_env_step_resets_land_on_the_iteration_that_collects_the_step():
    """4 env copies collect 4 steps an iteration: step 15001 is collected by the iteration that
    ends at 15004, so the reset follows it (not the one ending at 15000)."""
    group = _group("bro", utd=1, n_envs=4)
    assert reset_env_steps(group.loop, group.env_and_agent()[1])[0] == 15004


def _counting_with_env_step_resets(cfg, hparams=None):
    never = (10**9,)  # no reset by update count, only by env steps
    agent = make_counting_agent(cfg, hparams or CountHParams(), never, lambda count: None)
    return agent._replace(resets=agent.resets._replace(at_env_steps=lambda utd: (30, 50)))


@pytest.fixture
def counting(monkeypatch):
    spec = registry.AgentSpec(CountConfig, CountHParams, _counting_with_env_step_resets)
    monkeypatch.setitem(registry.AGENTS, "count", spec)
    run = config.resolve({"steps": 80, "eval_every": 20, "warmup_steps": 4, "batch_size": 4})
    return {**run, "agent": "count"}


def test_every_run_records_its_reset_env_steps(counting, tmp_path):
    """`run/resets` counts the resets applied by each eval point; `rlscale train` writes their
    env steps into config.yaml, a sweep into each run's status.json."""
    frame, result = train(counting, 2, tmp_path / "train", progress=False)
    assert result.reset_env_steps == (30, 50)
    resets = frame[frame.metric == "run/resets"].groupby("env_steps").value.max()
    assert resets.to_dict() == {20: 0.0, 40: 1.0, 60: 2.0, 80: 2.0}
    written = yaml.safe_load((tmp_path / "train" / "config.yaml").read_text())
    assert written["reset_env_steps"] == [30, 50]
    (group,) = group_runs(seed_runs(counting, 1))
    execute.run_job(group, tmp_path / "sweep")
    status = next((tmp_path / "sweep").rglob("status.json"))
    assert json.loads(status.read_text())["reset_env_steps"] == [30, 50]


def test_dry_run_lists_each_groups_resets(tmp_path):
    spec = tmp_path / "sweeps" / "paper.yaml"
    spec.parent.mkdir()
    overrides = {"critic_width": 16, "warmup_steps": 2500}
    spec.write_text(
        yaml.safe_dump(
            {
                "agent": {"preset": "bro_minimal", "overrides": overrides},
                "env": "jax:pendulum",
                "budget": {"env_steps": 1_000_000, "eval_every": 25_000},
                "grid": {"utd": [2, 8]},
            }
        )
    )
    sweep = load_sweep(spec)
    lines = estimate.plan_lines(sweep, execute.plan(sweep), tmp_path / "out")
    assert "  no reset due" in lines
    assert "  resets after env steps [315000, 627500, 940000]" in lines
