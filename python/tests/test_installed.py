"""The installed package (a wheel, QGEMM_TEST_INSTALLED=1) is self-contained: qgemm and its
library come from site-packages, the `qgemm` command runs the bundled program, and the shipped
databases are found beside the library. Skipped in source-tree runs."""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("QGEMM_TEST_INSTALLED") != "1",
                                reason="only for an installed wheel (QGEMM_TEST_INSTALLED=1)")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_package_and_library_come_from_the_install():
    import qgemm

    pkg = os.path.dirname(os.path.realpath(qgemm.__file__))
    assert not pkg.startswith(os.path.join(ROOT, "python") + os.sep), pkg
    assert "QGEMM_LIBRARY" not in os.environ
    assert os.path.realpath(qgemm.library_path()).startswith(os.path.join(pkg, "lib") + os.sep)
    assert qgemm.version() == qgemm.__version__


def test_command_reports_bundled_databases():
    import qgemm

    pkg = os.path.dirname(os.path.realpath(qgemm.__file__))
    bindir = os.path.dirname(sys.executable)
    out = subprocess.run([os.path.join(bindir, "qgemm"), "info", "--json"], check=True,
                         capture_output=True, text=True).stdout
    info = json.loads(out)
    assert info["version"] == qgemm.version()
    assert info["data_dir"]["source"] == "library"
    assert os.path.realpath(info["data_dir"]["path"]) == os.path.join(pkg, "share", "qgemm",
                                                                      "tuning_db")
    shipped = sorted(f for f in os.listdir(os.path.join(ROOT, "tuning_db"))
                     if f.endswith(".json"))
    assert info["data_dir"]["databases"] == shipped and shipped
