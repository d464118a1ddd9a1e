"""The long-CSV layout: exp_name -> run columns from the recipe's `variables`, loading, detection,
errors, and `rlscale analyze` on it.

The fixture (tests/data/long_csv/) has SimbaV2's schema: returns 1000·(1 - exp(-t/τ)), τ = 40k/σ
env steps, seed 0 at +5 and seed 1000 at -5, evals every 10k steps; Hopper_v4 returns are 4x that.
exp_names algo_utd{1,2,4} give σ, algo_utd05 is σ = 0.5 (a table entry: the pattern would read 5),
algo_utd4_reset is a reset variant (walker_walk only).
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rlscale.analysis import load, long_csv
from rlscale.analysis.errors import RecipeError
from rlscale.analysis.recipe import Recipe, Variables, load_recipe
from rlscale.cli import main

FIXTURE = Path(__file__).parent / "data" / "long_csv"
REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO.parent / "shared" / "data" / "simbav2-scaling"
PATTERN = r"(?P<variant>algo)_utd(?P<utd>[0-9.]+)(?P<resets>_reset)?"
TABLE = {"algo_utd05": {"utd": 0.5}}


def test_patterns_parse_numbers_and_the_table_wins_key_by_key():
    mapped = long_csv.map_names(
        ["algo_utd2", "algo_utd4_reset", "algo_utd05", "other"],
        [PATTERN, r"(?P<agent>other)"],
        TABLE | {"other": {"batch_size": 256, "critic_width": "512"}},
    )
    assert mapped["algo_utd2"]["utd"] == 2.0 and mapped["algo_utd2"]["variant"] == "algo"
    # a group that did not take part sets nothing; one that is no run column joins `variant`
    assert mapped["algo_utd4_reset"]["variant"] == "algo,resets=_reset"
    assert mapped["algo_utd05"]["utd"] == 0.5  # the pattern alone reads "05" as 5
    assert mapped["other"]["agent"] == "other" and mapped["other"]["critic_width"] == 512.0
    assert mapped["other"]["batch_size"] == 256.0 and math.isnan(mapped["other"]["utd"])


def test_only_a_full_match_counts_and_the_first_pattern_wins():
    mapped = long_csv.map_names(
        ["algo_utd2x", "algo_utd2"], [r"(?P<variant>algo)_utd(?P<utd>\d)", r"(?P<variant>.*)"], {}
    )
    assert mapped["algo_utd2x"]["variant"] == "algo_utd2x" and np.isnan(mapped["algo_utd2x"]["utd"])
    assert mapped["algo_utd2"]["utd"] == 2.0


def test_unmapped_exp_names_are_listed_with_the_recipe_file(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("variables:\n  patterns: ['(?P<variant>algo)_utd(?P<utd>[12])']\n")
    variables = load_recipe(recipe).variables
    with pytest.raises(RecipeError) as error:
        load.load(FIXTURE, "long-csv", variables, str(recipe))
    message = str(error.value)
    assert str(recipe) in message and "variables" in message
    assert "['algo_utd05', 'algo_utd4', 'algo_utd4_reset']" in message


def test_a_run_column_that_is_not_a_number_is_an_error():
    with pytest.raises(RecipeError, match=r"utd='x'.*variables\.table"):
        long_csv.map_names(["a_x"], [r"a_(?P<utd>\w)"], {})


def test_the_fixture_loads_by_detection_with_metrics_renamed_and_envs_as_written():
    assert load.detect_layout(FIXTURE) == "long-csv"
    tidy = load.load(FIXTURE, variables=Variables(patterns=[PATTERN], table=TABLE))
    assert list(tidy.columns) == list(load.TIDY_COLUMNS)
    assert set(tidy["env"]) == {"walker_walk", "Hopper_v4"}
    assert set(tidy["metric"]) == {"eval/return", "avg_success"}
    assert sorted(tidy["utd"].unique()) == [0.5, 1.0, 2.0, 4.0]
    assert set(tidy["variant"]) == {"algo", "algo,resets=_reset"}
    row = tidy[(tidy.utd == 2) & (tidy.env == "walker_walk") & (tidy.env_steps == 20_000)]
    returns = row[row.metric == "eval/return"].set_index("seed")["value"]
    assert returns.to_dict() == pytest.approx({0: 637.121, 1000: 627.121}, abs=1e-3)
    one_file = load.load(FIXTURE / "algo_utd.csv", "long-csv", Variables(patterns=[PATTERN]))
    assert sorted(one_file["utd"].unique()) == [1.0, 2.0]


def test_recipe_metric_takes_the_published_name_and_patterns_are_checked(tmp_path):
    assert Recipe(metric="avg_return").metric == "eval/return"
    bad = tmp_path / "bad.yaml"
    bad.write_text("variables: {patterns: ['(?P<utd>[0-9']}\n")
    with pytest.raises(RecipeError, match=r"bad.yaml: variables.patterns.*not a regular"):
        load_recipe(bad)
    bad.write_text("variables: {patterns: ['algo_utd[0-9]']}\n")
    with pytest.raises(RecipeError, match="no named group"):
        load_recipe(bad)


def test_analyze_fits_the_fixture_and_writes_the_report(tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"metric: avg_return\nvariables: {{patterns: ['{PATTERN}'], table: {json.dumps(TABLE)}}}\n"
        "select: {where: \"variant == 'algo'\"}\n"
        "normalize: {Hopper_v4: {min: 0.0, max: 4000.0}}\n"
        "thresholds: {values: [500.0, 800.0]}\nbootstrap: {samples: 10}\n"
    )
    out = tmp_path / "report"
    code = main(["analyze", str(FIXTURE), "--layout", "long-csv", "--recipe", str(recipe),
                 "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr()
    table = load.pd.read_csv(out / "tables" / "data_to_threshold.csv")
    at_500 = table[(table.threshold == 500.0)].groupby("utd")["time"].max()
    # first eval with 1000·(1 - exp(-t σ/40k)) >= 500: t >= 27.7k/σ, on the 10k grid
    assert at_500.to_dict() == {0.5: 60_000.0, 1.0: 30_000.0, 2.0: 20_000.0, 4.0: 10_000.0}
    fits = json.loads((out / "fits.json").read_text())
    assert len(fits["p1"][0]["data_efficiency"]) == 2
    assert (out / "plots" / "data_efficiency.png").is_file()
    assert json.loads((out / "provenance.json").read_text())["recipe"] == str(recipe)


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason=f"SimbaV2's released curves not at {PUBLISHED}")
def test_simbav2_released_curves_load_with_the_shipped_recipe():
    recipe = load_recipe(REPO / "analysis" / "simbav2-utd.yaml")
    tidy = load.load(PUBLISHED, "long-csv", recipe.variables, recipe.source)
    utd_runs = tidy[tidy["variant"] == "simbaV2"].dropna(subset=["utd"])
    assert sorted(utd_runs["utd"].unique()) == [1.0, 2.0, 4.0, 8.0]
    assert {"simbaV2,resets=_reset", "simba_plus"} <= set(tidy["variant"])
    final = utd_runs[(utd_runs.env_steps == 1e6) & (utd_runs.metric == "eval/return")]
    means = final[final.utd == 2].groupby("env")["value"].mean()
    # SimbaV2 UTD2 at 1M env steps as tabulated in shared/science/agents.md §8.2-8.3
    assert means["HalfCheetah_v4"] == pytest.approx(12022, abs=1)
    assert means["cheetah_run"] == pytest.approx(920, abs=1)
