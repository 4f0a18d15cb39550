"""vitpose-export: checkpoint or model name -> ONNX (fp32, fp16, int8, fp8) -> TensorRT engine."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import ConfigError
from .common import add_verbose_flag, run_command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vitpose-export", description=__doc__)
    add_verbose_flag(p)
    return p


def _export(args: argparse.Namespace) -> int:
    raise ConfigError("vitpose-export is not implemented yet (issue 3)")


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(_export, parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
