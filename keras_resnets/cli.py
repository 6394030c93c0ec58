"""What the command-line programs share: a user error ends in one line on stderr and exit status 2.

A bad flag value, a stray argument or a ValueError from the library (a bad file, a bad combination of flags) is
the user's to fix and gets no traceback; any other exception is a programming error and keeps its own.
"""

import sys

from absl import app, flags

USER_ERROR = 2


def fail(message):
    """Prints `error: message` to stderr and returns the exit status of a user error."""
    print(f"error: {message}", file=sys.stderr)
    return USER_ERROR


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        sys.exit(fail(f"{error} (--helpfull lists the flags)"))


def _user_errors_exit_2(main):
    def wrapped(argv):
        if len(argv) > 1:
            return fail(f"unexpected arguments {argv[1:]}; every option is a --flag (--helpfull lists them).")
        try:
            return main(argv)
        except ValueError as error:
            return fail(error)

    return wrapped


def run(main, argv=None):
    """`absl.app.run(main)`, with flag errors, positional arguments and ValueErrors reported as user errors."""
    app.run(_user_errors_exit_2(main), argv=argv, flags_parser=_parse_flags)
