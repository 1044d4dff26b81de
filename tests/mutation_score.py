"""The mutation score of `make mutate`: mutmut's verdicts on the mutants in scope, less the equivalent ones.

Usage: python tests/mutation_score.py PATTERN...  (run after `mutmut run PATTERN...`, from the repository root).
A mutant is *equivalent* when no test can tell it from the original (listed with the reason in
tests/mutation_equivalent.txt and in the README); the score is killed / (in scope − equivalent). A timeout counts
as killed (the tests noticed: they hung), "no tests" and survivors count against the score.
"""
import fnmatch
import subprocess
import sys
from collections import Counter
from pathlib import Path

EQUIVALENT = Path(__file__).with_name("mutation_equivalent.txt")


def main(patterns):
    lines = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "results", "--all", "true"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    verdicts = {}
    for line in lines:
        name, _, status = line.strip().rpartition(": ")
        if name and any(fnmatch.fnmatch(name, p) for p in patterns):
            verdicts[name] = status
    equivalent = {line.split()[0] for line in EQUIVALENT.read_text().splitlines() if line.strip() and line[0] != "#"}
    judged = {name: status for name, status in verdicts.items() if name not in equivalent}
    tally = Counter(judged.values())
    killed = tally["killed"] + tally["timeout"]
    alive = sorted(name for name, status in judged.items() if status not in ("killed", "timeout"))
    for name in alive:
        print(f"{judged[name]:>12}  {name}")
    print(f"mutants in scope {len(verdicts)}, equivalent {len(verdicts) - len(judged)}, "
          f"verdicts {dict(sorted(tally.items()))}")
    print(f"mutation score: {killed}/{len(judged)} = {killed / max(len(judged), 1):.1%} (equivalent mutants excluded)")


if __name__ == "__main__":
    main(sys.argv[1:])
