"""Progress in a log file: one line per ~5% with steps/s and ETA, not tqdm's redraws."""

import io

from rlscale.training.progress import LineProgress, progress


def test_a_line_per_five_percent_with_rate_and_eta():
    """Catches: a line per update (thousands in a log), or none until the end."""
    out = io.StringIO()
    bar = LineProgress(1000, "jax:pendulum utd=1 x3", stream=out)
    for _ in range(500):
        bar.update(2)
    bar.set_postfix(eval_return="-150.0")
    lines = out.getvalue().splitlines()
    assert len(lines) == 20
    assert lines[0].startswith("jax:pendulum utd=1 x3: 50/1000 steps (5%), ")
    assert "steps/s, ETA" in lines[0] and lines[-1].startswith("jax:pendulum utd=1 x3: 1000/1000")


def test_not_a_terminal_gets_lines():
    assert isinstance(progress(100, "sweep"), LineProgress)  # pytest captures stderr: not a tty
    assert not isinstance(progress(100, "sweep", enabled=False), LineProgress)
