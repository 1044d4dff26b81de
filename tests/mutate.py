"""`make mutate`: mutation testing of the core, one module at a time, then the score per module.

Usage: python tests/mutate.py [MODULE ...]   (from the repository root; default: every module of `SCOPE`).

Each module's mutants are run by one `mutmut run` (their tests: the module's own unit tests, `MUTATE_TESTS` in
tests/conftest.py), so a run can be stopped after any module and its verdicts kept: mutants/ holds them until the
next `make mutate` starts afresh (`python tests/mutate.py MODULE` adds or reruns one module in place).
"""
import os
import subprocess
import sys
from pathlib import Path

import mutation_score

#: What is mutated: per module, mutmut's patterns of its functions (pyproject's only_mutate lists the files).
#: The modules the checkpoint key, saved states, ownership, box counting and the CLI's parsing live in come first.
SCOPE = {
    "edujax.runner.chunks": ["edujax.runner.chunks.x_checkpoint_folder*", "edujax.runner.chunks.x_save_chunk*",
                             "edujax.runner.chunks.x_load_chunk*", "edujax.runner.chunks.x_run_chunks*",
                             "edujax.runner.chunks.x_place*"],
    "edujax.store.result": ["edujax.store.result.x*SweepResult*save*", "edujax.store.result.x*SweepResult*load*",
                            "edujax.store.result.x*SweepResult*from_saved*",
                            "edujax.store.result.x*SweepResult*summary*",
                            "edujax.store.result.x_storable*", "edujax.store.result.x_restore_state*",
                            "edujax.store.result.x__is_key*", "edujax.store.result.x_state_tree*"],
    "edujax.store.files": ["edujax.store.files.*"],
    "edujax.core.fractal": ["edujax.core.fractal.*"],
    "edujax.app.cli": ["edujax.app.cli.x_parse_at*", "edujax.app.cli.x_main*"],
    "edujax.app.compare": ["edujax.app.compare.x_write*"],
    "edujax.app.zoom": ["edujax.app.zoom.x_save*"],
    "edujax.runner.devices": ["edujax.runner.devices.x_parse_bytes*", "edujax.runner.devices.x_format_bytes*",
                              "edujax.runner.devices.x_default_*", "edujax.runner.devices.x_nbytes*"],
    "edujax.runner.trace": ["edujax.runner.trace.x*RecordPlan*"],
    "edujax.core.experiment": ["edujax.core.experiment.x_evaluate_boundaries*"],
    "edujax.core.grid": ["edujax.core.grid.*"],
    "edujax.core.outcomes": ["edujax.core.outcomes.*"],
}


def main(modules):
    unknown = [m for m in modules if m not in SCOPE]
    if unknown:
        print(f"unknown module {unknown[0]!r}: one of {', '.join(SCOPE)}", file=sys.stderr)
        return 2
    cache = Path("mutants/.jax-cache").absolute()  # spares each mutant's process the compiles its tests already did
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    Path("mutants").mkdir(exist_ok=True)
    for module in modules or SCOPE:
        print(f"mutating {module} ...", flush=True)
        with open("mutants/run.log", "ab") as log:
            done = subprocess.run([mutation_score.MUTMUT, "run", "--max-children", "2", *SCOPE[module]], stdout=log, stderr=log,
                                  env=env)
        if done.returncode != 0:
            print(f"mutmut failed on {module}: see mutants/run.log", file=sys.stderr)
            return 1
    mutation_score.main([p for m in SCOPE for p in SCOPE[m]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
