"""What every vitpose-* command shares: user errors become exit code 2 and one line."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from ..errors import UserError, VitPoseError

#: Exit codes: argparse already uses 2 for bad arguments; user errors join it.
EXIT_USER_ERROR = 2
EXIT_FAILURE = 1


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="show full tracebacks and library logs")


def run_command(body: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
                argv: Sequence[str] | None) -> int:
    """Parse `argv`, run `body(args)` and return the process exit code.

    Bad arguments (argparse), UserErrors and file-system errors (OSError: a path that can't be read or
    written, a full disk) -> one line on stderr and exit 2; KeyboardInterrupt -> one line and 130; other
    VitPoseErrors -> one line and exit 1. `--verbose` adds the traceback. Anything else propagates with
    its traceback: those are bugs.
    """
    _with_one_line_errors(parser)
    args = parser.parse_args(argv)
    try:
        return body(args) or 0
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except (VitPoseError, OSError) as exc:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        failure = isinstance(exc, VitPoseError) and not isinstance(exc, UserError)
        # A failure's message may quote a library log over several lines: kept as it is.
        print(f"{parser.prog}: error: {exc if failure else _one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE if failure else EXIT_USER_ERROR


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (a quoted library message may span several)."""
    return " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _with_one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make argparse report bad arguments in one line (it prints the whole usage block by default)."""
    def error(message: str):
        parser.exit(EXIT_USER_ERROR, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error
