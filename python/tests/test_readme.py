"""The top-level README's Python example runs and prints the output the README shows."""

import re
import subprocess
import sys

from conftest import IMAGES, REPO, WEIGHTS

# A mask's pixel count may move by a few pixels with the CPU: OpenBLAS picks its GEMM kernels
# for the processor it runs on, their sums round differently, and a pixel whose assembled
# value sits at the 0.5 threshold flips (measured: coffee's bus, 3944 px with the kernels
# OpenBLAS 0.3.21 picks on an AMD EPYC, 3946 px with those it picks on an Intel Xeon with
# AVX-512). Everything else the example prints must match exactly.
MASK_PIXELS = re.compile(r"mask (\d+) px")
MASK_SLACK_PX = 8


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
    printed, shown = run.stdout.splitlines(), block(readme, "python-output").splitlines()
    assert len(printed) == len(shown), run.stdout
    for got, want in zip(printed, shown):
        assert MASK_PIXELS.sub("mask N px", got) == MASK_PIXELS.sub("mask N px", want), got
        got_px, want_px = MASK_PIXELS.findall(got), MASK_PIXELS.findall(want)
        assert all(abs(int(g) - int(w)) <= MASK_SLACK_PX for g, w in zip(got_px, want_px)), \
            f"{got!r} against the README's {want!r}"
