"""pytest setup for the qgemm Python package: CPU only, torch optional.

Source-tree mode (default): the package is python/qgemm of this checkout and the C library
comes from $QGEMM_LIBRARY; when that is unset, from the newest build*/libqgemm.so of the
repository (what `cmake -B build-...` produced).

Installed mode (QGEMM_TEST_INSTALLED=1, what scripts/test_dist.sh does after installing the
wheel): `import qgemm` must find the installed package and its bundled library, with
QGEMM_LIBRARY unset. QGEMM_REQUIRE_TORCH=1 makes a missing torch an error instead of skips.
"""
import glob
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALLED = os.environ.get("QGEMM_TEST_INSTALLED") == "1"

if INSTALLED:
    if os.environ.get("QGEMM_LIBRARY"):
        raise pytest.UsageError("QGEMM_TEST_INSTALLED=1: unset QGEMM_LIBRARY")
else:
    sys.path.insert(0, os.path.join(ROOT, "python"))
    if not os.environ.get("QGEMM_LIBRARY"):
        libs = sorted(glob.glob(os.path.join(ROOT, "build*", "libqgemm.so")),
                      key=os.path.getmtime)
        if libs:
            os.environ["QGEMM_LIBRARY"] = libs[-1]

if os.environ.get("QGEMM_REQUIRE_TORCH") == "1":
    import torch  # noqa: F401  (fails the run here rather than skipping the torch tests)


@pytest.fixture(scope="session")
def lib():
    """The loaded C library (tests that need it fail, not skip, when it is missing)."""
    from qgemm import _lib

    return _lib.lib()


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(1234)
