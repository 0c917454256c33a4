"""docs/integration.md's example runs as written (on the CPU here; a GPU uses the kernels)."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "integration.md")


def example_source(name=None):
    text = open(DOC).read()
    tag = "<!-- example -->" if name is None else f"<!-- example: {name} -->"
    m = re.search(re.escape(tag) + r"\s*```python\n(.*?)```", text, re.S)
    assert m, f"docs/integration.md lost its {tag} block"
    return m.group(1)


def test_example_is_valid_python():
    compile(example_source(), "integration.md", "exec")


def test_example_runs(lib, capsys):
    pytest.importorskip("torch")
    exec(compile(example_source(), "integration.md", "exec"), {"__name__": "__main__"})
    assert "w8a8-fp8: y (8, 256) torch.bfloat16" in capsys.readouterr().out


def test_checkpoints_example_runs(lib, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("torchao")
    src = example_source("checkpoints")
    exec(compile(src, "integration.md", "exec"), {"__name__": "__main__"})
    assert "checkpoints: torchao -> qgemm -> transformers ok, w8a8-int8" in \
        capsys.readouterr().out
