"""The mutation score of `make mutate`: mutmut's verdicts on the mutants in scope, less the equivalent ones.

Usage: python tests/mutation_score.py PATTERN...  (run after `mutmut run PATTERN...`, from the repository root).
Prints the score per module (the dotted path before mutmut's function marker `.x_` or `.xǁ`), then overall, of the
mutants that were run (a `make mutate MODULES=...` runs some; the others are counted as not run).
A mutant is *equivalent* when no test can tell it from the original (listed with the reason in
tests/mutation_equivalent.txt and in the README); the score is killed / (in scope − equivalent). A timeout counts
as killed (the tests noticed: they hung), "no tests" and survivors count against the score.
"""
import fnmatch
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")
MUTMUT = str(Path(sys.executable).with_name("mutmut"))  # the one in this virtualenv


def main(patterns):
    lines = subprocess.run([MUTMUT, "results", "--all", "true"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    verdicts = {}
    for line in lines:
        name, _, status = line.strip().rpartition(": ")
        if name and any(fnmatch.fnmatch(name, p) for p in patterns):
            verdicts[name] = status
    unrun = Counter(module_of(name) for name, status in verdicts.items() if status == "not checked")
    verdicts = {name: status for name, status in verdicts.items() if status != "not checked"}  # e.g. MODULES=
    equivalent = {line.split()[0] for line in EQUIVALENT.read_text().splitlines() if line.strip() and line[0] != "#"}
    judged = {name: status for name, status in verdicts.items() if name not in equivalent}
    tally = Counter(judged.values())
    killed = tally["killed"] + tally["timeout"]
    alive = sorted(name for name, status in judged.items() if status not in ("killed", "timeout"))
    for name in alive:
        print(f"{judged[name]:>12}  {name}")
    for module in sorted({module_of(name) for name in verdicts}):
        mine = [status for name, status in judged.items() if module_of(name) == module]
        caught = sum(status in ("killed", "timeout") for status in mine)
        equivalent = sum(module_of(name) == module for name in verdicts) - len(mine)
        score = caught / max(len(mine), 1)
        print(f"{module:28s} {caught:4d}/{len(mine):<4d} = {score:6.1%}  ({equivalent} equivalent)")
    for module in sorted(unrun):
        print(f"{module:28s} {unrun[module]} mutants not run")
    print(f"mutants run {len(verdicts)}, equivalent {len(verdicts) - len(judged)}, "
          f"verdicts {dict(sorted(tally.items()))}")
    print(f"mutation score: {killed}/{len(judged)} = {killed / max(len(judged), 1):.1%} (equivalent mutants excluded)")


def module_of(name: str) -> str:
    """`edujax.result` of `edujax.result.xǁSweepResultǁload__mutmut_7` (`x_` marks a function, `xǁ` a method)."""
    found = re.match(r"(.+?)\.x[_ǁ]", name)
    return found[1] if found else name


if __name__ == "__main__":
    main(sys.argv[1:])
