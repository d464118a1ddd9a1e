"""The one writer of committed result files: every file names the command, versions and device."""

import json

from rlscale.provenance import write_result


def test_a_result_file_says_what_made_it(tmp_path):
    path = write_result(tmp_path, "bench", {"updates_per_s": 360.0}, "| a |\n|---|\n| 1 |")
    data = json.loads(path.read_text())
    assert data["updates_per_s"] == 360.0
    made = data["provenance"]
    assert made["command"] and made["versions"]["python"] and made["device"] and made["written"]
    header = (tmp_path / "bench.md").read_text().splitlines()[0]
    assert header.startswith("<!-- written by `") and "Do not edit" in header
