"""Every shell command in README.md is run here or marked long (`# long...` in its comment).

Catches: a README command added or changed without either (a renamed flag in an unmarked command
fails here when run), and a command run here that the README no longer shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from rlscale.cli import main

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHELL_BLOCKS = re.compile(r"^```(?:bash|sh|)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
LONG = re.compile(r"#\s*long\b")
# The README commands short enough for the default suite, each run as written, from the repo root.
RUN = ("rlscale sweep sweeps/quickstart.yaml --dry-run",)


def readme_commands() -> list[str]:
    """Each `rlscale ...` or `make ...` line of the README's shell blocks, `\\` lines joined."""
    commands = []
    for block in SHELL_BLOCKS.findall(README.read_text()):
        for line in block.replace("\\\n", " ").splitlines():
            if line.split(" ", 1)[0] in ("rlscale", "make"):
                commands.append(re.sub(r"\s+", " ", line.strip()))
    return commands


def _command(line: str) -> str:
    return line.split("#", 1)[0].strip()


def test_every_readme_command_is_run_here_or_marked_long():
    commands = readme_commands()
    assert len(commands) >= 10  # the parser still finds the README's blocks
    unmarked = [c for c in commands if not LONG.search(c) and _command(c) not in RUN]
    assert not unmarked, f"run these in {__file__} or mark them `# long: why`: {unmarked}"
    shown = {_command(c) for c in commands}
    assert set(RUN) <= shown, f"no longer in the README: {sorted(set(RUN) - shown)}"


@pytest.mark.parametrize("command", RUN)
def test_readme_command_runs(command, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    argv = shlex.split(command)
    assert argv[0] == "rlscale"
    assert main(argv[1:]) == 0, capsys.readouterr()
