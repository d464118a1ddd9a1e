"""Test-session settings. JAX compile time dominates CPU test time: a persistent compilation cache
shared by this process and the CLI subprocesses the tests start lets an identical program compile
once per session. Tests also compile at XLA's lowest backend optimisation level: it cuts CPU
compile time 2-3x (BRO's update: 21 s -> 8 s) and the tests here are compile-bound; numerics stay
float32 and every assertion holds at either level (measured)."""

import os
import tempfile

import pytest

os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "rlscale-jax-cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")


@pytest.fixture(scope="session")
def agent_runs():
    """The agent contract's runs by case name (tests/agent_checks.py CASES), each made on first
    use (its two compiles) and read by every test file of the session that needs it."""
    from agent_checks import UpdateRuns  # imports JAX: after the settings above

    return UpdateRuns()
