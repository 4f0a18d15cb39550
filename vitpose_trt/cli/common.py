"""What every vitpose-* command shares: the exit codes, user errors as one line, how a stopped run says
where it got to and how to continue."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence

from ..errors import ConfigError, UserError, VitPoseError

#: Exit codes, the same for every command (argparse already uses 2 for bad arguments; user errors join it).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130
#: What each exit code means in a command's help; a command that cannot end with some lists only its own.
EXIT_CODE_MEANINGS = {
    EXIT_OK: "done: every input was processed",
    EXIT_FAILURE: "failure (a model, engine or library error)",
    EXIT_USER_ERROR: "user error (arguments, missing or unusable files; with --strict, an unreadable input)",
    EXIT_SKIPPED: "finished, but some inputs could not be read and were skipped (listed at the end)",
    EXIT_INTERRUPTED: "stopped by Ctrl-C or SIGTERM; the results so far are written\n"
                      "       (vitpose-infer / vitpose-eval: --resume continues the run)",
}


def exit_codes_help(meanings: Mapping[int, str] = EXIT_CODE_MEANINGS) -> str:
    """The "exit codes:" table of a command's help epilog: one row per code of `meanings`."""
    return "exit codes:\n" + "\n".join(f"  {code:<5}{meaning}" for code, meaning in meanings.items())


EXIT_CODES_HELP = exit_codes_help()
#: Log settings libraries read from the environment when they load: OpenCV's own warnings and its FFmpeg's
#: messages (a camera index with no camera, a cut video, a refused stream) would break the one-line errors,
#: which already say what went wrong. Without --verbose they are set, unless the user set them.
QUIET_LIBRARY_LOGS = {"OPENCV_LOG_LEVEL": "ERROR", "OPENCV_FFMPEG_LOGLEVEL": "-8"}


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """--precision P: what a backend that chooses it computes the model in (`PoseEstimator`'s precision=)."""
    parser.add_argument("--precision", metavar="P", help="what the backend computes in, where it chooses: openvino "
                        "fp32 (default) or bf16 (CPUs with AVX512-BF16/AMX), torch-cuda fp16 (default) or fp32; "
                        "others run the file's own precision")


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="show full tracebacks and library logs")


def given_flags(args: argparse.Namespace, dests: Mapping[str, str]) -> list[str]:
    """The flags of `dests` (flag -> argparse dest, each defaulting to None) that `args` has a value for."""
    return [flag for flag, dest in dests.items() if getattr(args, dest) is not None]


def refuse_without(given: Sequence[str], needed: str) -> None:
    """`ConfigError` "FLAGS need(s) NEEDED" when options that only act through `needed` are `given` without it
    (ignoring them would silently drop what was asked for)."""
    if given:
        raise ConfigError(f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} {needed}")


def run_command(body: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
                argv: Sequence[str] | None) -> int:
    """Parse `argv`, run `body(args)` and return the process exit code.

    Bad arguments (argparse), UserErrors and file-system errors (OSError: a path that can't be read or
    written, a full disk) -> one line on stderr and exit 2; KeyboardInterrupt -> one line and 130; other
    VitPoseErrors -> one line and exit 1. `--verbose` adds the traceback. The parser's epilog gets the
    exit-code table (`EXIT_CODES_HELP`) unless it has one. Anything else propagates with
    its traceback: those are bugs. `args.argv` holds the arguments as given (for a report's "command",
    or the command that continues a stopped run).
    """
    _with_one_line_errors(parser)
    if parser.epilog is None:
        parser.epilog = EXIT_CODES_HELP
    argv = list(sys.argv[1:] if argv is None else argv)
    parser.set_defaults(argv=argv)
    args = parser.parse_args(argv)
    if not getattr(args, "verbose", False):
        for name, value in QUIET_LIBRARY_LOGS.items():
            os.environ.setdefault(name, value)
    try:
        return body(args) or 0
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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


def continue_command(prog: str, argv: Sequence[str]) -> str:
    """The shell command that continues a stopped run: the same arguments plus --resume."""
    return shlex.join([prog, *argv, *([] if "--resume" in argv else ["--resume"])])


def stopped_message(prog: str, stopped_by: str, progress: str, argv: Sequence[str]) -> str:
    """Two lines for a run stopped by a signal: where it got to (`progress`, e.g. "after 14 of 61 images;
    out/results.json holds their results") and how to continue."""
    return (f"{prog}: interrupted ({stopped_by}) {progress}\n"
            f"{prog}: to continue: {continue_command(prog, argv)}")
