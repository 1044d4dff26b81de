"""The one exception type that means "the user asked for something invalid"."""


class UserError(ValueError):
    """A mistake in user input (CLI flags, a grid, an experiment module).

    The CLI prints its message as a single line and exits with status 2;
    anything else escaping is a bug in edujax and keeps its traceback.
    """
