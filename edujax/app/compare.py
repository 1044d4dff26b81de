"""Publishing a comparison: its map and table written into a folder, and the results page updated."""
from __future__ import annotations

import json
from pathlib import Path

from edujax.app import registry
from edujax.core.errors import UserError
from edujax.report import page, plots
from edujax.store.comparison import DATA, MAP, Comparison
from edujax.store.files import SUMMARY, atomic_dir, atomic_write, foreign, is_ours


def write(comparison: Comparison, out) -> Path:
    """Write `compare.png` and `comparison.json` into the folder `out`, replacing it whole.

    `out` must be new, an empty folder, or a real folder holding only what an
    earlier comparison wrote (`files.is_ours`): no file edujax did not write is
    ever replaced. When `out` sits in a results folder (beside saved sweeps),
    that folder's page is rewritten to show it.
    """
    out = Path(out)
    if not is_ours(out, holds=DATA, only=(DATA, MAP)):
        raise UserError(f"{out} exists and holds files edujax compare did not write "
                        f"({', '.join(foreign(out, (DATA, MAP))[:3])}): name a new folder")
    with atomic_dir(out, checked=True) as tmp:  # is_ours: it holds at most our two files
        plots.comparison_figure(comparison).savefig(tmp / MAP, dpi=120)
        atomic_write(tmp / DATA, lambda f: f.write(json.dumps(comparison.summary(), indent=2).encode()))
    if any(out.parent.glob(f"*/{SUMMARY}")):
        page.write(out.parent, registry.STORY)
    return out
