"""Reproduce the authors' published fits from their published data.

The data is not in the repository (it is the authors', beside it in ../shared/data). Without it
these tests skip, with the reason in pytest's summary (`-rs`); under CI, which always has it, a
missing folder fails instead, so the reproduction can never silently stop running.
"""

import os

import pytest

from rlscale.analysis import validate
from rlscale.cli import main

MISSING = f"published data not found at {validate.DATA} (<repo>/../shared/data)"
if not validate.DATA.exists() and os.environ.get("CI"):
    pytest.fail(f"{MISSING}, and CI always has it", pytrace=False)
needs_data = pytest.mark.skipif(not validate.DATA.exists(), reason=MISSING)


@pytest.fixture(scope="module")
def checks():
    return {check.name: check for check in validate.run_all()}


@needs_data
def test_every_published_number_is_reproduced(checks):
    failed = [check.line() for check in checks.values() if not check.passed]
    assert not failed, "\n".join(failed)


@needs_data
def test_simba_csv_to_1e_3(checks):
    simba = [c for c in checks.values() if c.name.startswith("simba") and "max rel" in c.name]
    assert len(simba) == 3  # time_to_threshold + predictions of both envs
    assert all(c.error <= 1e-3 for c in simba)


@needs_data
def test_budget_lines_and_hyperparameter_tables_are_covered(checks):
    names = " ".join(checks)
    for needle in (
        "gym σ* = k·F^s coefficient",
        "dmc σ* = k·F^s exponent",
        "gym shared_fitted.csv",
        "dmc separate_fitted.csv",
        "gym B* slope",
    ):
        assert needle in names


def test_validate_without_data_exits_non_zero(tmp_path, capsys):
    """Catches: `rlscale validate` reporting success (exit 0) having validated nothing."""
    assert main(["validate", "--data", str(tmp_path / "absent")]) == 1
    assert "validated nothing" in capsys.readouterr().out
