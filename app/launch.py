"""The ``skintrace`` console script: Ctrl-C at any moment is one line and exit 130.

Everything of SkinTrace, the imports included, runs inside :func:`main`, so a Ctrl-C
in the first milliseconds (while modules load) is caught like one during a command:
``skintrace: interrupted`` on stderr, exit status 130, no traceback. After the command
returns, a second Ctrl-C while the interpreter shuts down exits 130 at once.
"""

from __future__ import annotations

# Only modules the interpreter has already loaded at module level (no file is read):
# a Ctrl-C during any import must land inside main()'s try.
import os
import sys

#: Exit status of a process stopped by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def _interrupted() -> int:
    try:
        print("skintrace: interrupted", file=sys.stderr, flush=True)
    except (KeyboardInterrupt, OSError, ValueError):
        pass
    return EXIT_INTERRUPTED


def _exit_now(signum: int, frame: object) -> None:
    os._exit(EXIT_INTERRUPTED)


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); see :func:`app.cli.main`."""
    try:
        from app.cli import main as cli_main

        code = cli_main(argv)
    except KeyboardInterrupt:
        return _quiet_exit(_interrupted())
    return _quiet_exit(code)


def _quiet_exit(code: int) -> int:
    """Return ``code``; a Ctrl-C from here on (interpreter shutdown) exits 130 silently."""
    try:
        import signal

        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _exit_now)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
