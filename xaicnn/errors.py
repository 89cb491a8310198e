"""The one exception type users see.

A ``UserError`` carries a single sentence saying what was wrong and what to do; the CLI prints it
and exits with status 2, the app shows it with ``st.error``. Everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """Bad input from the user (a name, a path, a size): one clear sentence, no traceback."""

    exit_code = 2
