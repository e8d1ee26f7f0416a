"""Entry point for `pgtop` and `python -m pgtop`: pause the garbage collector for the
start-up (gc_pause), hand argv to pgtop.cli and exit with its code. No state of its own
beyond a default for ESCDELAY in the environment (a user's own value wins)."""

import os
import sys

# A lone Esc byte is a key only once Textual (constants.py, read at its import) has waited
# ESCDELAY ms for the rest of a sequence; its 100 ms default made every esc (leave a
# server, clear a filter) feel slow. A sequence arrives in one write from any terminal or
# tmux, so 25 ms is enough, as modern tools wait (tmux 3.5 10 ms, neovim 50 ms).
os.environ.setdefault("ESCDELAY", "25")


def main() -> None:
    from pgtop import gc_pause

    gc_pause.pause()  # before the heavy imports; the app resumes it after its first frame
    from pgtop.cli import run

    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
