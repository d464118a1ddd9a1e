"""Turn fits.json into the (σ, B, η[, N]) the fits recommend for a budget F, as a sweep spec.

P1 (Rybkin et al. 2025 §2.4–2.5): σ* = k·F^s, then B*(σ*) and η*(σ*) per env. P2 (Fu et al. 2025
§3.3): σ*(F) and N*(F) lines, B*(σ*, N*), and the width whose critic has N* parameters. In both,
the env steps are the data the budget buys at that setting: D = F / (FLOPs per env step + δ).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import yaml

from rlscale.analysis import p2
from rlscale.analysis.errors import AnalysisError
from rlscale.analysis.fits import FitResult
from rlscale.analysis.hparams import round_batch


def _value(entry: dict) -> float:
    return float(entry["value"])


def _line(line: dict, budget: float) -> float:
    return float(line["coefficient"] * budget ** line["exponent"])


def _significant(value: float, digits: int = 2) -> float:
    return float(f"{value:.{digits}g}")


def _loglog(fit: dict, env: str, utd: float) -> float | None:
    """B*(σ) or η*(σ) of one env from a fits.json hyperparameter entry (None if env absent)."""
    if env not in fit["slope"]:
        return None
    return 10.0 ** (_value(fit["slope"][env]) * math.log10(utd) + _value(fit["intercept"][env]))


def _p1_setting(fits: dict, env: str, budget: float) -> dict:
    sizes = [s for s in fits["p1"] if s.get("budget")]
    if not sizes:
        raise AnalysisError("fits.json has no σ*(F) budget line (see its messages); cannot propose")
    size = sizes[-1]
    utd = _line(size["budget"], budget)
    compute = size["compute"]
    batch_fit = compute["batch_size"]
    mean_batch = np.mean(
        [
            10.0 ** (s * math.log10(utd) + batch_fit["intercept"][e])
            for e, s in batch_fit["slope"].items()
        ]
    )
    setting = {
        "utd": utd,
        "per_env_step": compute["flops_per_sample"] * mean_batch * utd,
        "critic_params": size["critic_params"],
    }
    hyper = size["hyperparameters"]
    if "batch_size" in hyper:
        setting["batch_size"] = _loglog(hyper["batch_size"], env, utd)
    setting["batch_size"] = setting.get("batch_size") or mean_batch
    if "learning_rate" in hyper:
        setting["learning_rate"] = _loglog(hyper["learning_rate"], env, utd)
    return setting


def _p2_setting(fits: dict, env: str, budget: float) -> dict:
    result = fits["p2"]["envs"][env]
    optimal = result["compute_optimal"]
    utd = _line(optimal["utd_line"], budget)
    params = _line(optimal["params_line"], budget)
    if "batch_size" in result:
        fitted = {k: _value(v) for k, v in result["batch_size"]["params"].items()}
        batch = float(p2.predict("inverse_power_product", FitResult("", fitted), utd, params))
    else:
        batch = float(optimal["batch_size"])
    # the cost uses the B of the compute-optimal solve (the authors' constant 256, or B*(σ,N))
    cost_batch = batch if optimal["batch_size"] == "fitted" else float(optimal["batch_size"])
    per_env_step = fits["p2"]["flops_per_param_sample"] * params * cost_batch * utd
    setting = {
        "utd": utd,
        "critic_params": params,
        "batch_size": batch,
        "per_env_step": per_env_step,
    }
    widths = np.array(fits["p2"]["width_to_params"], float)
    if len(widths) >= 3:
        # N is quadratic in the width for MLP-style critics (P2 fits params against width likewise)
        a, b, c = np.polyfit(widths[:, 0], widths[:, 1], 2)
        roots = np.roots([a, b, c - params])
        real = roots[np.isreal(roots) & (roots.real > 0)].real
        if len(real):
            setting["critic_width"] = int(16 * round(real.max() / 16))
    return setting


def propose(
    fits: dict, budget: float, env: str | None = None, seeds: int = 5, eval_points: int = 10
) -> list[dict]:
    """Sweep specs (one per env) for the setting the fits recommend at budget F = C + δ·D.

    Args:
        fits: the parsed fits.json of `rlscale analyze`.
        budget: F in FLOPs (compute plus δ x env steps).
        env: one env of the fits, or None for all.
        seeds: seeds per config. eval_points: evaluations over the run.

    Returns:
        Sweep-spec dicts: name, agent, env, budget, seeds, grid (+ a `notes` list).
    """
    envs = [env] if env else fits["meta"]["envs"]
    delta = fits["recipe"]["budget"]["delta"]
    specs = []
    for name in envs:
        use_p2 = "compute_optimal" in fits.get("p2", {}).get("envs", {}).get(name, {})
        setting = _p2_setting(fits, name, budget) if use_p2 else _p1_setting(fits, name, budget)
        steps = budget / (
            setting["per_env_step"] + fits["p2"].get("delta", delta)
            if use_p2
            else setting["per_env_step"] + delta
        )
        eval_every = max(1, int(steps // eval_points))
        grid = {
            "utd": [_significant(setting["utd"])],
            "batch_size": [int(round_batch(setting["batch_size"]))],
        }
        if setting.get("learning_rate"):
            grid["learning_rate"] = [_significant(setting["learning_rate"], 3)]
        if setting.get("critic_width"):
            grid["critic_width"] = [setting["critic_width"]]
        specs.append(
            {
                "name": f"proposed-{budget:.0e}".replace("+", ""),
                "agent": {"preset": fits["meta"]["agent"], "overrides": {}},
                "env": name,
                "budget": {
                    "env_steps": eval_every * eval_points,
                    "eval_every": eval_every,
                    "eval_episodes": 5,
                },
                "seeds": seeds,
                "grid": grid,
                "notes": [
                    f"{'P2' if use_p2 else 'P1'} fits; F = {budget:.3g} FLOPs; "
                    f"N = {setting['critic_params']:.3g}"
                    if setting.get("critic_params")
                    else f"F = {budget:.3g} FLOPs"
                ],
            }
        )
    return specs


def write_specs(specs: list[dict], out: str | Path | None = None) -> list[Path]:
    """Write `propose`'s specs as YAML with their notes as a comment header.

    Args:
        specs: from `propose`. out: the file (default sweeps/<spec name>.yaml); with several envs,
            one file per env beside it, suffixed with the env name.

    Returns:
        The paths written, one per spec.
    """
    if not specs:
        return []
    out = Path(out) if out else Path("sweeps") / f"{specs[0]['name']}.yaml"
    paths = []
    for spec in specs:
        suffix = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec["env"])
        path = out if len(specs) == 1 else out.with_name(f"{out.stem}-{suffix}{out.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {k: v for k, v in spec.items() if k != "notes"}
        header = "".join(f"# {note}\n" for note in spec["notes"])
        path.write_text(header + yaml.safe_dump(body, sort_keys=False))
        paths.append(path)
    return paths
