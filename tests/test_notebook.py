"""notebooks/tour.ipynb runs top to bottom in a fresh kernel (so it cannot rot), and shows what its text says."""
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "tour.ipynb"


def test_the_tour_notebook_runs_and_shows_a_map_per_step():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells
                   if cell.cell_type == "code"), "commit it without outputs"
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    maps = [cell for cell in code if any("image/png" in out.get("data", {}) for out in cell.outputs)]
    sweeps = [cell for cell in code if re.search(r"ej\.sweep\(", cell.source)]
    assert len(sweeps) == 7 and maps == sweeps, "every step of the story shows its map"
    printed = "".join(out.get("text", "") for cell in code for out in cell.outputs if out.output_type == "stream")
    # The least-squares line through the data predicts exactly 400 for 2025 (edujax.regression builds it so).
    assert re.search(r"2025 prediction of the converged runs: \[400\.\]", printed), printed
