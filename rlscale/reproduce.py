"""`rlscale reproduce NAME`: P1's protocol end to end, sweep -> fit -> predict -> verify.

1. The grid search `sweeps/NAME.yaml` (σ x B x η x seeds) runs into `<out>/grid`.
2. `rlscale analyze` fits B*(σ), η*(σ) on it (recipe `analysis/NAME.yaml`), report in
   `<out>/report/grid`.
3. The fitted configs (B*, η* predicted at every grid σ and at the held-out σ) and the constant
   baseline at the held-out σ run as a second sweep, `<out>/fitted` (spec `<out>/fitted.yaml`).
4. D_J(σ) is fitted on the fitted runs at the grid's σ values only and extrapolated to the held-out
   σ; predicted vs measured is printed and written to `<out>/report/` (held_out.md, .csv, .png).

Each phase is a resumable sweep, so a killed reproduction continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import yaml

from rlscale.analysis import heldout, load, pipeline, report
from rlscale.analysis.frontier import flops_per_sample
from rlscale.analysis.recipe import Recipe, load_recipe
from rlscale.config import ConfigError
from rlscale.sweeps import execute
from rlscale.sweeps.spec import PACKAGE_ROOT, Sweep, load_sweep


def _find(kind: str, name: str) -> Path:
    """`name` as a path, else <kind>/<name>.yaml in cwd or in the repo."""
    candidates = [Path(name), Path(kind) / f"{name}.yaml", PACKAGE_ROOT / kind / f"{name}.yaml"]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise ConfigError(f"no {kind} file for {name!r}; looked at {[str(p) for p in candidates]}")
    return found


def fitted_spec(grid: Sweep, configs: list[heldout.Config], seeds: int) -> dict:
    """The second phase's sweep spec: the grid's agent, env and budget, one zip row per config.

    The grid's `overrides` are not carried over: their `when` conditions name grid values."""
    rows = sorted(
        {
            c.key()
            for c in configs
            if c.role != heldout.BASELINE
            or c.utd not in {float(r.config["utd"]) for r in grid.runs}
        }
    )
    spec = {key: grid.data[key] for key in ("agent", "env", "budget") if key in grid.data}
    return {
        "name": f"{grid.name}-fitted",
        **spec,
        "seeds": seeds,
        "zip": {
            "utd": [u for u, _, _ in rows],
            "batch_size": [b for _, b, _ in rows],
            "learning_rate": [lr for _, _, lr in rows],
        },
    }


def _write_spec(path: Path, spec: dict, configs: list[heldout.Config]) -> Sweep:
    lines = [f"# {c.role}: σ={c.utd:g} B={c.batch_size} η={c.learning_rate:g}" for c in configs]
    header = "# Written by `rlscale reproduce` from the grid's fits; rerunning it resumes.\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = header + "\n".join(lines) + "\n" + yaml.safe_dump(spec, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return load_sweep(path)


def _phase(
    title: str, sweep: Sweep, root: Path, executor: execute.RayOptions | None, progress: bool
) -> float | None:
    """Run one phase's sweep; its wall time in seconds, or None if it had nothing left to do."""
    start = time.perf_counter()
    print(f"[{title}] {len(sweep.runs)} runs -> {root}", flush=True)
    todo = execute.run_sweep(sweep, root, None, executor, progress)
    seconds = time.perf_counter() - start
    print(
        f"[{title}] {'finished in ' + f'{seconds / 60:.1f} min' if todo else 'already done'}",
        flush=True,
    )
    return seconds if todo else None


@dataclasses.dataclass(frozen=True)
class Reproduction:
    test: heldout.HeldOutTest  # predicted vs measured D_J at the held-out σ, per threshold
    lines: list[str]  # the verdict, as printed and written to held_out.md
    report: Path  # the directory of held_out.md, .csv and .png


def reproduce(
    name: str,
    recipe: str | Path | None = None,
    out: str | Path | None = None,
    executor: execute.RayOptions | None = None,
    progress: bool = True,
) -> Reproduction:
    """P1's protocol end to end (see the module docstring); each phase resumes where it stopped.

    Args:
        name: the grid, `sweeps/NAME.yaml` (or a path to a sweep spec).
        recipe: analysis recipe name or path (default: `analysis/NAME.yaml`).
        out: output directory (default `runs/<sweep name>`).
        executor: Ray options to run the sweeps on a cluster; None runs them here.
        progress: show progress bars (the phase lines are printed either way).

    Raises:
        ConfigError, RecipeError: bad input, before anything runs.
    """
    grid = load_sweep(_find("sweeps", name))
    recipe: Recipe = load_recipe(_find("analysis", str(recipe or name)))
    settings = recipe.reproduce
    out = Path(out or Path("runs") / grid.name)
    fit_utds = sorted({float(r.config["utd"]) for r in grid.runs})
    clash = sorted(set(settings.held_out_utds) & set(fit_utds))
    if clash:
        raise ConfigError(f"held-out σ {clash} are also in the grid {fit_utds}; hold out others")
    times = {"grid": _phase("1/2 grid", grid, out / "grid", executor, progress)}

    grid_tidy = load.load(out / "grid")
    analysis = pipeline.run(grid_tidy, recipe, str(out / "grid"))
    report.write_report(analysis, out / "report" / "grid")
    configs = heldout.fitted_configs(
        analysis, fit_utds + list(settings.held_out_utds), recipe.hyperparameters.batch_multiple
    )
    batch, rate = heldout.baseline_config(
        analysis, settings.baseline_utd, recipe.hyperparameters.threshold_index
    )
    configs += [
        heldout.Config(heldout.BASELINE, u, batch, rate)
        for u in fit_utds + list(settings.held_out_utds)
    ]
    second = _write_spec(out / "fitted.yaml", fitted_spec(grid, configs, settings.seeds), configs)
    times["fitted"] = _phase("2/2 fitted runs", second, out / "fitted", executor, progress)

    fitted_tidy = load.load(out / "fitted")
    test = heldout.run(
        heldout.crossings(fitted_tidy, recipe),
        heldout.crossings(grid_tidy, recipe),
        configs,
        fit_utds,
        recipe,
        flops_per_sample(fitted_tidy),
    )
    lines = summary(analysis, test, configs, settings.max_relative_error, times)
    _write(out / "report", test, fit_utds, recipe, lines)
    return Reproduction(test, lines, out / "report")


def summary(analysis, test: heldout.HeldOutTest, configs, tolerance: float, times) -> list[str]:
    """The lines printed and written to held_out.md."""
    size = analysis.sizes[0]
    lines = ["# Held-out test of P1's protocol", ""]
    for param in ("batch_size", "learning_rate"):
        fit = size.hparams[param]
        env = next(iter(fit.slope))
        low, high = size.hparam_ci[param].get(f"slope/{env}", (float("nan"),) * 2)
        lines.append(
            f"- {param}*(σ) slope {fit.slope[env]:+.3f} (95% CI {low:+.3f} .. "
            f"{high:+.3f}); P1 finds negative slopes"
        )
    for c in configs:
        lines.append(f"- {c.role} σ={c.utd:g}: B={c.batch_size}, η={c.learning_rate:.3g}")
    top = test.data_fits[max(test.data_fits)]
    p = top.params
    lines.append(
        f"- D_J(σ) on the fitted runs of the fit set, J={top.info['threshold']:.0f}: "
        f"D_min={p['D_min']:.3g}, α={p['alpha']:.3g}, β={p['beta']:.3g}"
    )
    lines += [
        "",
        "| J | σ | predicted D_J [95% CI] | measured D_J [95% CI] | error | "
        "baseline D_J | baseline / fitted |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in test.comparison.iterrows():
        lines.append(
            f"| {r.threshold:.0f} | {r.utd:g} | {r.predicted:.0f} [{r.predicted_ci_low:.0f}, "
            f"{r.predicted_ci_high:.0f}] | {r.measured:.0f} [{r.measured_ci_low:.0f}, "
            f"{r.measured_ci_high:.0f}] | {r.relative_error:+.1%} | {r.baseline_measured:.0f} | "
            f"{r.baseline_over_fitted:.2f} |"
        )
    errors = test.comparison["relative_error"].abs()
    headline = test.comparison[
        test.comparison["threshold_index"] == test.comparison["threshold_index"].max()
    ]
    lines += [
        "",
        f"mean |error| over thresholds {errors.mean():.1%}; at the highest threshold "
        + ", ".join(f"σ={r.utd:g}: {r.relative_error:+.1%}" for _, r in headline.iterrows())
        + f" ({'within' if (headline['relative_error'].abs() <= tolerance).all() else 'outside'}"
        f" the {tolerance:.0%} target)",
        "wall time of this call: "
        + ", ".join(
            f"{k} {v / 60:.1f} min" if v is not None else f"{k} already done"
            for k, v in times.items()
        ),
    ]
    return lines


def _write(out: Path, test: heldout.HeldOutTest, fit_utds, recipe: Recipe, lines) -> None:
    from rlscale.analysis import plots_heldout

    out.mkdir(parents=True, exist_ok=True)
    test.comparison.to_csv(out / "held_out.csv", index=False)
    test.points.to_csv(out / "held_out_points.csv", index=False)
    index = recipe.hyperparameters.threshold_index
    for stem, figure, caption in plots_heldout.held_out(test, fit_utds, index):
        figure.savefig(out / f"{stem}.png", dpi=90)
        lines = [*lines, "", f"![{caption}]({stem}.png)"]
    (out / "held_out.md").write_text("\n".join(lines) + "\n")
