"""The ``facepipe`` exit codes and the one error a command raises for a user's mistake."""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # as shells report a Ctrl-C
EXIT_CODES = (
    "exit status: 0 all done; 1 something did not succeed (an execution, a file that could"
    " not be uploaded, an email not sent); 2 a mistake in the command or the settings"
    " (nothing was done); 130 stopped by Ctrl-C"
)


class UsageError(Exception):
    """Bad arguments or missing files: reported as one line, exit status 2."""
