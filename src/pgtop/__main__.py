"""Entry point for `pgtop` and `python -m pgtop`."""

import sys


def main() -> None:
    from pgtop import gc_pause

    gc_pause.pause()  # before the heavy imports; the app resumes it after its first frame
    from pgtop.cli import run

    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
