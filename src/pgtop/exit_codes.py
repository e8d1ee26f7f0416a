"""Exit codes of the `pgtop` command, shared by the command line and every runner.

Constants only; nothing here changes at run time.
"""

EXIT_OK = 0
EXIT_FAILURE = 1  # connection, permission or authentication failure
EXIT_USAGE = 2  # bad command-line input, or a terminal that cannot show the view
