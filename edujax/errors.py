"""The one exception type that means "the user asked for something invalid"."""
import argparse


class UserError(ValueError):
    """A mistake in user input (CLI flags, a grid, an experiment module).

    The CLI prints its message as a single line and exits with status 2;
    anything else escaping is a bug in edujax and keeps its traceback.
    """


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are `UserError`s (one line, exit 2), not usage dumps."""

    def error(self, message):
        raise UserError(message)


def positive(text: str) -> int:
    """An argparse type: a whole number ≥ 1 (`Parser` reports anything else as one line)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return int(text)
