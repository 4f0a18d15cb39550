"""vitpose-bench: latency and throughput reports (model-only and end-to-end pipeline)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import ConfigError
from .common import add_verbose_flag, run_command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitpose-bench", description=__doc__)
    add_verbose_flag(p)
    return p


def _bench(args: argparse.Namespace) -> int:
    raise ConfigError("vitpose-bench is not implemented yet (issue 7)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_bench, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
