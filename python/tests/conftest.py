"""pytest setup for the qgemm Python package: CPU only, torch optional.

The C library comes from $QGEMM_LIBRARY; when that is unset, from the newest build*/libqgemm.so
of the repository (what `cmake -B build-...` produced). CI sets QGEMM_LIBRARY explicitly.
"""
import glob
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

if not os.environ.get("QGEMM_LIBRARY"):
    libs = sorted(glob.glob(os.path.join(ROOT, "build*", "libqgemm.so")), key=os.path.getmtime)
    if libs:
        os.environ["QGEMM_LIBRARY"] = libs[-1]


@pytest.fixture(scope="session")
def lib():
    """The loaded C library (tests that need it fail, not skip, when it is missing)."""
    from qgemm import _lib

    return _lib.lib()


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
