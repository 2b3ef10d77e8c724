"""YOLACT instance segmentation from Python: a thin binding over libyolact's C API
(include/yolact.h), which this package bundles."""

from ._lib import lib

__version__: str = lib.yolact_version_string().decode()
"""The version of the bundled libyolact (the package's own)."""
