"""The one exception type users see.

A ``UserError`` carries a single sentence saying what was wrong and what to do; the CLI prints it
and exits with status 2, the app shows it with ``st.error``. Everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """Bad input from the user (a name, a path, a size): one clear sentence, no traceback."""

    exit_code = 2
    label = "error"  # the word after "xaicnn COMMAND:" when the CLI prints it


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so a ``kill`` cleans up as Ctrl-C does."""


class Interrupted(UserError):
    """The user stopped the command (Ctrl-C or SIGTERM): the sentence says what was kept. Exit 130 after
    Ctrl-C, 143 after SIGTERM, as a shell reports a process those signals ended."""

    label = "interrupted"

    def __init__(self, message: str, *, terminated: bool = False):
        super().__init__(message)
        self.exit_code = 143 if terminated else 130
