"""`pip wheel ./python` gives a wheel that installs into a fresh virtual environment and
detects there, from another directory, with nothing of the checkout on its paths."""

import json
import subprocess
import sys

from conftest import IMAGES, PRESET, REPO, WEIGHTS

SCRIPT = """
import json, sys, yolact
assert yolact.__file__.startswith(sys.prefix), yolact.__file__
model = yolact.Model(sys.argv[1], preset=sys.argv[2])
with model.session(backend="cpu") as session:
    print(json.dumps(session.detect(sys.argv[3]).to_coco("coffee")))
"""


def test_wheel_in_a_fresh_venv(tmp_path, singles):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(REPO / "python")], check=True)
    (wheel,) = wheels.glob("yolact-*.whl")
    assert wheel.name.endswith("-py3-none-linux_x86_64.whl")
    venv = tmp_path / "elsewhere" / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)
    run = subprocess.run([python, "-c", SCRIPT, str(WEIGHTS), PRESET, str(IMAGES["coffee"])],
                         cwd=venv.parent, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert json.loads(run.stdout) == json.loads(json.dumps(singles["coffee"].to_coco("coffee")))
