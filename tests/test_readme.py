"""Every command the README shows works as written, in a fresh copy of the repository.

The copy holds what a clone would (the files git tracks or would track, as
they are in this working tree). Its `.venv` is built in a blink instead of by
`pip`: a bare virtual environment whose site-packages points at this test's
own installed packages and at the copy's source (a `.pth` file), plus the
`edujax` command, and `make`'s install stamp, so `make` sees it installed.

Every ```sh block runs line by line, with bash, from the copy's root, and the
```python blocks with the copy's `.venv/bin/python`, in README order. Two lines
are not run: `make test` (this suite is what it runs) and the bare
`make sweep` (the full default sweep, minutes here; the same pipeline runs in
`make sweep ARGS=…` below it in the README, and in the rest of the suite).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np

from edujax.core.outcomes import OUTCOMES

REPO = Path(__file__).resolve().parent.parent
NOT_RUN = {"make test", "make sweep"}


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of README.md marked sh or python, in order."""
    text = (REPO / "README.md").read_text()
    return [(m[1], m[2]) for m in re.finditer(r"^```(sh|python)\n(.*?)^```", text, re.S | re.M)]


def fresh_copy(root: Path) -> Path:
    """The repository's tracked (and trackable) files as they are now, in a new folder with a ready .venv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    clone = root / "edujax"
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "edujax_test_copy.pth").write_text("\n".join([str(clone), *sorted(ours)]) + "\n")
    script = venv / "bin" / "edujax"
    script.write_text(f"#!{python}\nimport sys\nfrom edujax.app.cli import entry\nsys.exit(entry())\n")
    script.chmod(0o755)
    (venv / ".installed").touch()  # newer than pyproject.toml: make does not reinstall
    return clone


def test_the_readme_commands_work_as_written_in_a_fresh_copy(tmp_path):
    clone = fresh_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    ran = []
    for number, (language, code) in enumerate(readme_blocks()):
        if language == "python":
            script = tmp_path / f"readme_block_{number}.py"
            script.write_text(code)
            commands = [[str(clone / ".venv" / "bin" / "python"), str(script)]]
        else:
            lines = [line.split("#")[0].strip() for line in code.splitlines()]
            commands = [["bash", "-c", line] for line in lines if line and line not in NOT_RUN]
        for command in commands:
            proc = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, \
                f"README command failed: {command[-1]}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            ran.append(command[-1])
    assert any("edujax new my_problem" in c for c in ran) and any(c.startswith("make sweep ARGS=") for c in ran)
    assert len(ran) >= 5

    # `edujax new` wrote into scratch/, which make sweep does not pick up ...
    assert (clone / "scratch" / "my_problem.py").is_file() and not (clone / "experiments" / "my_problem.py").exists()
    # ... and its template does what its docstring promises: slow at small lr, converged with moderate lr and
    # β₁ ≳ 0.4, hopping (oscillating, or slow where the hops die down) with little momentum at larger lr.
    out = clone / "results"
    with np.load(out / "my_problem" / "sweep.npz") as npz:
        codes, lr, beta1 = npz["outcome"], npz["hparam/learning_rate"], npz["hparam/beta1"]
    name = np.asarray(OUTCOMES)[codes]
    assert np.all(name[lr < 2e-3] == "slow")
    converged = name == "converged"
    assert converged.mean() > 0.1 and converged[beta1 >= 0.4].mean() > 4 * max(converged[beta1 < 0.4].mean(), 0.01)
    moderate = (lr > 1e-2) & (lr < 0.3)
    hopping = name[moderate & (beta1 < 0.2)]
    assert np.isin(hopping, ["oscillating", "slow"]).mean() > 0.8 and (hopping == "oscillating").mean() > 0.3
    summary = json.loads((out / "my_problem" / "summary.json").read_text())
    assert summary["about"].startswith("Adam in the Rosenbrock valley")  # the docstring explains it on the page
    assert summary["source"] == "../../scratch/my_problem.py"
    page = (out / "index.html").read_text()
    for experiment in ("my_problem", "quadratic", "bowl"):
        assert f'id="exp-{experiment}"' in page, experiment
