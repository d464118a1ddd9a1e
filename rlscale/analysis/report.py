"""Write an `Analysis` to a report directory: fits.json, tidy tables, PNG plots and an index page.

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
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlscale.analysis import load, pipeline, plots, plots_p2, pooled, status
from rlscale.analysis.captions import TABLE_CAPTIONS
from rlscale.analysis.pipeline import Analysis
from rlscale.analysis.recipe import Recipe
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
            "p2": analysis.p2,
        }
    )


def fit_statuses(analysis: Analysis) -> list[tuple[str, str, str, float]]:
    """(which fit, status, reason, failed share of its bootstrap refits) of every fitted law."""
    found = []

    def add(which: str, state: str, reason: str, info: dict) -> None:
        failed = info.get("bootstrap", {}).get("failed_share", math.nan)
        found.append((which, state, reason, failed))

    for size in analysis.sizes:
        tag = f" [N={size.critic_params:.3g}]" if np.isfinite(size.critic_params) else ""
        for param, fit in size.hparams.items():
            add(f"{param}*(σ){tag}", fit.status, fit.status_reason, fit.info)
        for fit in size.data_fits.values():
            which = f"D_J(σ) J={fit.info['threshold']:.1f}{tag}"
            add(which, fit.status, fit.status_reason, fit.info)
    for env, result in analysis.p2.get("envs", {}).items():
        for entry in result.get("data_efficiency", {}).values():
            which = f"P2 D(σ,N) {env} J={entry['info']['threshold']:.1f}"
            add(which, entry["status"], entry["status_reason"], entry["info"])
        if "batch_size" in result:
            entry = result["batch_size"]
            add(f"P2 B*(σ,N) {env}", entry["status"], entry["status_reason"], entry["info"])
    for which, entry in pooled.fits(analysis.p2):
        add(which, entry["status"], entry["status_reason"], entry["info"])
    return found


def summary_lines(analysis: Analysis) -> list[str]:
    """Headline numbers for the terminal: B*/η* slopes, D_J at the top J, σ*(F), held-out errors;
    then a count of fit statuses and one line naming every fit that is not `ok`."""
    lines = [
        f"{env}: auto top J_max = {e['auto']['top']:g} (q{e['auto']['final_return_quantile']:g} "
        f"of {e['auto']['runs']} final returns = {e['auto']['quantile']:.4g}); thresholds "
        f"{e['values'][0]:.4g} … {e['values'][-1]:.4g} ({len(e['values'])})"
        for env, e in analysis.thresholds.items()
        if e["auto"]
    ]
    for size in analysis.sizes:
        tag = f"[N={size.critic_params:.3g}] " if np.isfinite(size.critic_params) else ""
        for param, fit in size.hparams.items():
            slopes = sorted({round(v, 4) for v in fit.slope.values()})
            lines.append(
                f"{tag}{param}*(σ) ∝ σ^{slopes if len(slopes) > 1 else slopes[0]} [{fit.status}]"
            )
        if size.data_fits:
            top = size.data_fits[max(size.data_fits)]
            p = top.params
            lines.append(
                f"{tag}D_J(σ) at J={top.info['threshold']:.1f}: D_min={p['D_min']:.3g}, "
                f"α={p['alpha']:.3g}, β={p['beta']:.3g} [{top.status}]"
            )
        if size.budget:
            b = size.budget
            lines.append(
                f"{tag}σ*(F) = {b['coefficient']:.3g}·F^{b['exponent']:.3f} "
                f"(fitted on {b['n_fit']} thresholds)"
            )
            for held in b["holdout"]:
                lines.append(
                    f"{tag}  held out J={held['threshold']:.1f}: predicted σ*="
                    f"{held['predicted']:.3g} vs {held['actual']:.3g} "
                    f"({100 * held['relative_error']:+.1f}%)"
                )
    for env, result in analysis.p2.get("envs", {}).items():
        if result.get("data_efficiency"):
            top = result["data_efficiency"][max(result["data_efficiency"])]
            p = {k: v["value"] for k, v in top["params"].items()}
            lines.append(
                f"[P2 {env}] D(σ,N) at J={top['info']['threshold']:.1f}: "
                f"D_min={p['D_min']:.3g}, a={p['a']:.3g}, α={p['alpha']:.3g}, "
                f"b={p['b']:.3g}, β={p['beta']:.3g} [{top['status']}]"
            )
        optimal = result.get("compute_optimal")
        if optimal:
            u, n = optimal["utd_line"], optimal["params_line"]
            lines.append(
                f"[P2 {env}] σ*(F) = {u['coefficient']:.3g}·F^{u['exponent']:.3f}, "
                f"N*(F) = {n['coefficient']:.3g}·F^{n['exponent']:.3f}"
            )
    return lines + pooled.summary_lines(analysis.p2) + _status_lines(fit_statuses(analysis))


def _status_lines(found: list[tuple[str, str, str, float]]) -> list[str]:
    if not found:
        return []
    counts = {s: sum(f[1] == s for f in found) for s in dict.fromkeys(f[1] for f in found)}
    lines = [
        "fit status: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
        + (" (non-ok fits are drawn dashed)" if set(counts) - {status.OK} else "")
    ]
    lines += [f"  not ok: {status.summary(w, s, r)}" for w, s, r, _ in found if s != status.OK]
    failed = [(w, share) for w, _, _, share in found if share > 0]
    if failed:
        lines.append(
            "bootstrap refits that failed: "
            + ", ".join(f"{w} {100 * share:.0f}%" for w, share in failed)
        )
    return lines


def analyze(
    path: str | Path, recipe: Recipe, out: str | Path = "report", layout: str = "auto"
) -> tuple[Analysis, Path]:
    """Load the runs at `path`, analyse them with `recipe` and write the report to `out`.

    A path with no runs still gets a report saying so (`analysis.curves` is then empty).

    Returns:
        The analysis and the report's index page.
    """
    analysis = Analysis(recipe, str(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CorruptRunWarning)
        try:
            tidy = load.load(path, layout, recipe.variables, recipe.source)
        except FileNotFoundError as error:
            analysis.messages.append(f"load: {error}")
        else:
            analysis = pipeline.run(tidy, recipe, str(path))
    damaged = [f"load: {w.message}" for w in caught if issubclass(w.category, CorruptRunWarning)]
    analysis.messages[:0] = damaged  # the damaged runs first: the rest was analysed without them
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
    parts += ["## Summary", "", *[f"- {line}" for line in summary_lines(analysis)], ""]
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
        + "".join(f"<li>{escape(s)}</li>" for s in summary_lines(analysis))
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
