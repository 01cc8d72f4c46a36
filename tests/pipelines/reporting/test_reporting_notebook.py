"""The exploration notebook is valid nbformat 4 JSON, committed without outputs, and loads the
catalog entries it promises."""

from __future__ import annotations

import ast
import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "explore_catalog.ipynb"


def _code_cells(notebook: dict) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def test_notebook_is_nbformat_4_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text())

    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] >= 5
    assert notebook["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in notebook["cells"]]
    assert len(ids) == len(set(ids))
    for cell in notebook["cells"]:
        assert cell["cell_type"] in {"markdown", "code"}
        assert isinstance(cell["source"], list)
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_notebook_loads_the_corpus_features_and_metrics_and_plots():
    cells = _code_cells(json.loads(NOTEBOOK.read_text()))

    assert cells[0].strip() == "%load_ext kedro.ipython"
    python = "\n".join(cells[1:])
    ast.parse(python)  # every other cell is plain Python
    for entry in ("soundtracks", "mfcc_features", "model_metrics"):
        assert f'catalog.load("{entry}")' in python
    assert "plt.show()" in python
