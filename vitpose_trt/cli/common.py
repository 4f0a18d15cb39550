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

    UserError and KeyboardInterrupt -> one line and exit 2 / 130; other VitPoseErrors -> one line and
    exit 1; `--verbose` adds the traceback. Unexpected exceptions propagate (they are bugs).
    """
    args = parser.parse_args(argv)
    try:
        return body(args) or 0
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except VitPoseError as exc:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR if isinstance(exc, UserError) else EXIT_FAILURE
