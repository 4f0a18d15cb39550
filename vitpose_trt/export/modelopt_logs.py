"""ModelOpt's console logs: its ONNX modules set their loggers to INFO when imported and log every decision,
and warn of internals no user can act on ("Shared constants ..."); vitpose-export shows them with --verbose."""

from __future__ import annotations

import logging


def set_modelopt_log_level(verbose: bool) -> None:
    """Every `modelopt` logger (call after importing ModelOpt: its import resets them) to INFO when `verbose`,
    else to ERROR."""
    level = logging.INFO if verbose else logging.ERROR
    for name in list(logging.root.manager.loggerDict):
        if name == "modelopt" or name.startswith("modelopt."):
            logging.getLogger(name).setLevel(level)
