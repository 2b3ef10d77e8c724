"""The top-level README's Python example runs and prints the output the README shows."""

import re
import subprocess
import sys

from conftest import IMAGES, REPO, WEIGHTS


def block(text: str, marker: str) -> str:
    found = re.search(f"<!-- {marker} -->\n```[a-z]*\n(.*?)```\n<!-- /{marker} -->", text,
                      re.S)
    assert found, f"README.md has no {marker} block"
    return found.group(1)


def test_readme_example(tmp_path):
    readme = (REPO / "README.md").read_text()
    script = tmp_path / "example.py"
    script.write_text(block(readme, "python-example"))
    run = subprocess.run([sys.executable, str(script), str(WEIGHTS), str(IMAGES["coffee"])],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    assert run.stdout == block(readme, "python-output")
