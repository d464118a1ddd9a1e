"""Write an `Analysis` to a report directory: fits.json, tidy tables, PNG plots and an index page.

The one place results become JSON: the stages return typed values (`types`), converted here.

report/
  fits.json            every fitted parameter with its bootstrap CI, and what was skipped, why
  tables/*.csv|parquet data to threshold per config, best/proposed hyperparameters, frontier
  plots/*.png          figures of `plots.py`
  index.html|index.md  the figures with one-sentence captions, the messages and the tables
"""

from __future__ import annotations

import html
import json
import math
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlscale.analysis import load, pipeline, plots, plots_p2, summary
from rlscale.analysis.captions import TABLE_CAPTIONS
from rlscale.analysis.fits import FitResult
from rlscale.analysis.recipe import Recipe
from rlscale.analysis.types import Analysis, P2Env, P2Result
from rlscale.results import CorruptRunWarning


def _plain(value):
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None, tuple keys/values to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fits_json(analysis: Analysis) -> dict:
    """Everything `rlscale propose` and a reader need, as plain JSON."""
    sizes = []
    for size in analysis.sizes:
        sizes.append(
            {
                "critic_params": size.critic_params,
                "utd_range": list(size.utd_range),
                "hyperparameters": {
                    p: fit.to_json(size.hparam_ci.get(p)) for p, fit in size.hparams.items()
                },
                "data_efficiency": [fit.to_json() for fit in size.data_fits.values()],
                "compute": size.compute.to_json() if size.compute else None,
                "budget": size.budget,
            }
        )
    return _plain(
        {
            "source": analysis.source,
            "meta": analysis.meta,
            "recipe": analysis.recipe.model_dump(mode="json"),
            "messages": analysis.messages,
            "thresholds": analysis.thresholds,
            "p1": sizes,
            "p2": _p2_json(analysis.p2) if analysis.p2 else {},
        }
    )


def _p2_json(p2: P2Result) -> dict:
    out = {
        "envs": {env: _env_json(result) for env, result in p2.envs.items()},
        "width_to_params": p2.width_to_params,
        "delta": p2.delta,
        "flops_per_param_sample": p2.flops_per_param_sample,
    }
    if p2.pooled is not None and p2.shared_exponent is not None:
        pooled = p2.pooled
        out["pooled"] = {
            "pool": pooled.pool,
            "threshold": pooled.threshold,
            "tasks": pooled.tasks,
            "task_medians": pooled.task_medians,
            "median": pooled.median,
            "thresholds": pooled.thresholds,
            "data_efficiency": _fits_json(pooled.data_efficiency),
            "ols": _fits_json(pooled.ols),
        }
        out["shared_exponent"] = {
            "threshold": p2.shared_exponent.threshold,
            "data_efficiency": _fits_json(p2.shared_exponent.data_efficiency),
        }
    return out


def _env_json(result: P2Env) -> dict:
    out = {}
    if result.data_efficiency:
        out["data_efficiency"] = _fits_json(result.data_efficiency)
    if result.batch_size is not None:
        out["batch_size"] = result.batch_size.to_json()
    if result.compute_optimal is not None:
        out["compute_optimal"] = asdict(result.compute_optimal)
    return out


def _fits_json(fits: dict[int, FitResult]) -> dict[int, dict]:
    return {index: fit.to_json() for index, fit in fits.items()}


def analyze(
    path: str | Path, recipe: Recipe, out: str | Path = "report", layout: str = "auto"
) -> tuple[Analysis, Path]:
    """Load the runs at `path`, analyse them with `recipe` and write the report to `out`.

    A path with no runs still gets a report saying so (`analysis.curves` is then empty).

    Returns:
        The analysis and the report's index page.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorruptRunWarning)
        try:
            tidy = load.load(path, layout, recipe.variables, recipe.source)
        except FileNotFoundError as error:
            analysis = Analysis(recipe, str(path), messages=(f"load: {error}",))
        else:
            analysis = pipeline.run(tidy, recipe, str(path))
    damaged = [f"load: {w.message}" for w in caught if issubclass(w.category, CorruptRunWarning)]
    # the damaged runs first: the rest was analysed without them
    analysis = replace(analysis, messages=(*damaged, *analysis.messages))
    return analysis, write_report(analysis, out)


def write_report(analysis: Analysis, out: str | Path) -> Path:
    """Write fits.json, tables, plots and the index page under `out`; returns the index path."""
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    (out / "fits.json").write_text(json.dumps(fits_json(analysis), indent=1))
    for name, table in analysis.tables.items():
        table = table.reset_index(drop=True)
        table.to_csv(out / "tables" / f"{name}.csv", index=False)
        table.to_parquet(out / "tables" / f"{name}.parquet", index=False)
    figures = []
    for stem, figure, caption in _all_plots(analysis):
        figure.savefig(out / "plots" / f"{stem}.png", dpi=110)
        plt.close(figure)
        figures.append((f"plots/{stem}.png", caption))
    if analysis.recipe.report.format == "markdown":
        index = out / "index.md"
        index.write_text(_markdown(analysis, figures))
    else:
        index = out / "index.html"
        index.write_text(_html(analysis, figures))
    return index


def _all_plots(analysis: Analysis) -> list[plots.Plot]:
    """Every figure the analysis supports, in report order."""
    makers = (
        plots.learning_curves,
        plots.hyperparameters,
        plots.data_efficiency,
        plots.compute_frontier,
        plots.iqm_summary,
        plots_p2.p2_fits,
        plots_p2.p2_pooled,
    )
    return [plot for make in makers for plot in make(analysis)]


def _table_caption(name: str) -> str:
    return TABLE_CAPTIONS.get(name, name.replace("_", " ").capitalize() + ".")


def _markdown(analysis: Analysis, figures: list[tuple[str, str]]) -> str:
    parts = [f"# rlscale analysis of `{analysis.source}`", ""]
    if analysis.messages:
        parts += ["## Not computed", "", *[f"- {m}" for m in analysis.messages], ""]
    parts += ["## Summary", "", *[f"- {line}" for line in summary.summary_lines(analysis)], ""]
    for path, caption in figures:
        parts += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    parts += ["## Tables", ""]
    for name in analysis.tables:
        parts.append(f"- [{name}](tables/{name}.csv): {_table_caption(name)}")
    return "\n".join(parts) + "\n"


def _html(analysis: Analysis, figures: list[tuple[str, str]]) -> str:
    escape = html.escape
    body = [f"<h1>rlscale analysis of <code>{escape(analysis.source)}</code></h1>"]
    if analysis.messages:
        body.append(
            "<h2>Not computed</h2><ul>"
            + "".join(f"<li>{escape(m)}</li>" for m in analysis.messages)
            + "</ul>"
        )
    body.append(
        "<h2>Summary</h2><ul>"
        + "".join(f"<li>{escape(s)}</li>" for s in summary.summary_lines(analysis))
        + "</ul>"
    )
    for path, caption in figures:
        body.append(
            f'<figure><img src="{path}" style="max-width:100%">'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    body.append("<h2>Tables</h2>")
    for name, table in analysis.tables.items():
        body.append(
            f'<h3><a href="tables/{name}.csv">{name}</a></h3>'
            f"<p>{escape(_table_caption(name))}</p>" + _html_table(table)
        )
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto} table{font-size:11px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>rlscale analysis</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _html_table(table: pd.DataFrame, rows: int = 20) -> str:
    shown = table.head(rows).to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0)
    more = f"<p>… {len(table) - rows} more rows in the CSV.</p>" if len(table) > rows else ""
    return shown + more
