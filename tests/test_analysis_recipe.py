"""Analysis recipes: shipped presets load, defaults match default.yaml, bad keys are explained."""

import ast
from pathlib import Path

import numpy as np
import pytest

from rlscale.analysis.recipe import DEFAULT_RECIPE, Recipe, Thresholds, load_recipe

PRESETS = sorted(DEFAULT_RECIPE.parent.glob("*.yaml"))
ANALYSIS_SOURCES = sorted((Path(__file__).parents[1] / "rlscale" / "analysis").glob("*.py"))


def test_default_yaml_equals_the_built_in_defaults():
    assert load_recipe(DEFAULT_RECIPE) == Recipe()
    assert load_recipe(None) == Recipe()


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_shipped_recipe_loads(path):
    recipe = load_recipe(path)
    counts = {len(recipe.thresholds_for(env)) for env in [*recipe.env_thresholds, "other"]}
    assert len(counts) == 1 or recipe.env_thresholds  # env overrides share one count per file


def test_presets_carry_the_papers_settings():
    gym, dmc = (
        load_recipe(DEFAULT_RECIPE.parent / "p1-gym.yaml"),
        load_recipe(DEFAULT_RECIPE.parent / "p1-dmc.yaml"),
    )
    assert gym.budget.delta == 4e9 and dmc.budget.delta == 1e10
    assert gym.compute.critic_params == 1.5e5 and dmc.compute.critic_params == 4.92e6
    np.testing.assert_allclose(gym.thresholds_for("Ant-v4")[[1, -2]], [391.0, 770.1], atol=0.05)
    np.testing.assert_allclose(dmc.thresholds_for("cheetah-run")[1], 314.2, atol=0.05)


def test_unknown_key_names_file_key_and_valid_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("budget:\n  deltta: 4.0e+9\n")
    with pytest.raises(ValueError) as error:
        load_recipe(path)
    message = str(error.value)
    assert str(path) in message and "budget.deltta" in message
    assert "['delta', 'grid_points', 'holdout_top_k']" in message


def test_unknown_key_inside_a_mapping_of_models(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("normalize:\n  jax:pendulum: {min: -1500, maximum: 0}\n")
    with pytest.raises(ValueError, match=r"valid keys at normalize.jax:pendulum: \['max', 'min'\]"):
        load_recipe(path)


def test_bad_value_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("hyperparameters: {slope: sideways}\n")
    with pytest.raises(ValueError, match=r"hyperparameters\.slope"):
        load_recipe(path)


def test_thresholds_need_exactly_one_spec():
    assert Thresholds(values=[800, 100]).resolve().tolist() == [100, 800]
    assert Thresholds(linspace=(450, 788.9, 20)).resolve()[-1] == pytest.approx(788.9)
    with pytest.raises(ValueError, match="exactly one"):
        Thresholds(values=[1.0], linspace=(1, 2, 3))


@pytest.mark.parametrize("path", ANALYSIS_SOURCES, ids=lambda p: p.name)
def test_analysis_never_imports_jax(path):
    tree = ast.parse(path.read_text())
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] in {"jax", "flax", "optax"} for name in names)
