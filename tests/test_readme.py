"""The README is executable: each of its Python blocks runs as-is in a fresh interpreter, with
nothing injected, so a block that uses a name it does not define fails here."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)


def test_the_readme_has_python_blocks():
    """Catches: a fence renamed (```py) so that the blocks below silently stop running."""
    assert BLOCKS


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(block):
    done = subprocess.run(
        [sys.executable, "-c", block],
        cwd=README.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
