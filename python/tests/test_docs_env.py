"""README's environment-variable table names every variable the library, the command line,
the benches and the Python package read (found here by grepping their sources)."""
import glob
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def variables_read():
    names = set()
    for pattern in ("src/**/*.c", "tuner/*.c", "bench/*.c", "bench/*.cc", "bench/*.cpp"):
        for f in glob.glob(os.path.join(ROOT, pattern), recursive=True):
            names.update(re.findall(r'\b(?:qg_)?getenv\("([A-Z0-9_]+)"', open(f).read()))
    for f in glob.glob(os.path.join(ROOT, "python", "qgemm", "*.py")):
        names.update(re.findall(r'environ(?:\.get\(|\[)"([A-Z0-9_]+)"', open(f).read()))
    return names


def test_readme_table_lists_every_variable():
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    table = {n for row in section.splitlines() if row.startswith("| `")
             for n in re.findall(r"`([A-Z0-9_]+)`", row.split("|")[1])}
    read = variables_read()
    assert {"QGEMM_CACHE_DIR", "QGEMM_DATA_DIR", "QGEMM_LIBRARY"} <= read  # the grep works
    assert read - table == set(), f"read by the code, missing in README: {sorted(read - table)}"
