"""Build hook: libyolact is built by the repository's own Makefile (`make shared`) and its
shared library copied into the package, so the installed `yolact` needs no `make install`
and no LD_LIBRARY_PATH. Make reads CUDA, CUDA_ARCH, CUDA_HOME and the rest from the
environment, as it does for a plain `make`."""

import shutil
import subprocess
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent.parent


class BuildWithLibrary(build_py):
    def run(self) -> None:
        super().run()
        if not (ROOT / "include" / "yolact.h").is_file():
            raise SystemExit(f"{ROOT}: not a libyolact checkout; build from python/ inside one")
        build = Path(self.get_finalized_command("build").build_base).resolve() / "libyolact"
        # Its own build folder: never mixed with a `make CUDA=0` one (the Makefile's rule).
        subprocess.run(["make", "-C", str(ROOT), f"BUILD={build}", "shared"], check=True)
        # libyolact.so links to the versioned file; ctypes loads it by path, so the
        # soname does not matter.
        target = Path(self.build_lib) / "yolact" / "libyolact.so"
        shutil.copyfile((build / "libyolact.so").resolve(), target)


class PlatformWheel(bdist_wheel):
    """The package is pure Python over a C library: any Python 3, this platform only."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple:
        return "py3", "none", sysconfig.get_platform().replace("-", "_").replace(".", "_")


setup(cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
