"""docs/integration.md's example runs as written (on the CPU here; a GPU uses the kernels)."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "integration.md")


def example_source():
    text = open(DOC).read()
    m = re.search(r"<!-- example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "docs/integration.md lost its <!-- example --> block"
    return m.group(1)


def test_example_is_valid_python():
    compile(example_source(), "integration.md", "exec")


def test_example_runs(lib, capsys):
    pytest.importorskip("torch")
    exec(compile(example_source(), "integration.md", "exec"), {"__name__": "__main__"})
    assert "w8a8-fp8: y (8, 256) torch.bfloat16" in capsys.readouterr().out
