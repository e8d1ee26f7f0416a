"""Entry point for `pgtop` and `python -m pgtop`: pause the garbage collector for the
start-up (gc_pause), hand argv to pgtop.cli and exit with its code. No state of its own."""

import sys


def main() -> None:
    from pgtop import gc_pause

    gc_pause.pause()  # before the heavy imports; the app resumes it after its first frame
    from pgtop.cli import run

    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
