"""The `sentaligner` command (`python -m sentaligner`): cli.main, with Ctrl-C at any moment, start-up
included, ending it with one line.

An interrupted command then ends by SIGINT itself, as Python does for an unhandled Ctrl-C: the
shell reports status 130, and a shell loop running `sentaligner` stops instead of going on to its
next turn. Output files are already cleaned up when the interrupt unwinds the writing code."""

import os
import signal
import sys

from .errors import INTERRUPTED


def run() -> None:
    try:
        from .cli import main

        main()
    except KeyboardInterrupt:  # during start-up, before cli.main handles it
        print(("\n" if sys.stderr.isatty() else "") + "Error: interrupted", file=sys.stderr)
        _end_by_sigint()
    except SystemExit as exit:
        if exit.code == INTERRUPTED:
            _end_by_sigint()
        raise


def _end_by_sigint() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    sys.exit(INTERRUPTED)  # where a signal does not end the process


if __name__ == "__main__":
    run()
