"""The one exception type that means "the user gave us something we cannot use".

The CLI prints it as a single line (``thinbridge: error: ...``) and exits with status 2;
anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A problem with the user's input, files or options, explained in one line."""
