"""The one exception type that means "the user asked for something invalid"."""
import argparse
import sys


class UserError(ValueError):
    """A mistake in user input (CLI flags, a grid, an experiment module).

    The CLI prints its message as a single line and exits with status 2;
    anything else escaping is a bug in edujax and keeps its traceback.
    """


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are `UserError`s (one line, exit 2), not usage dumps.

    An option's value may start with "-" (`--max-memory -5GB` reaches the
    option's own check, which says what is wrong with it; argparse alone would
    take "-5GB" for another option and say "expected one argument").
    """

    def error(self, message):
        raise UserError(message)

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(self._attach_values(args), namespace)

    def _attach_values(self, args: list[str]) -> list[str]:
        """`--option -value` -> `--option=-value` for this parser's options that take one value."""
        takes_one = {o for a in self._actions if a.nargs is None and a.option_strings for o in a.option_strings}
        known = set(self._option_string_actions)
        out, i = [], 0
        while i < len(args):
            if args[i] == "--":
                return out + args[i:]
            nxt = args[i + 1] if i + 1 < len(args) else None
            if args[i] in takes_one and nxt and nxt.startswith("-") and nxt != "--" and nxt.split("=")[0] not in known:
                out.append(f"{args[i]}={nxt}")
                i += 2
            else:
                out.append(args[i])
                i += 1
        return out


def positive(text: str) -> int:
    """An argparse type: a whole number ≥ 1 (`Parser` reports anything else as one line)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return int(text)
