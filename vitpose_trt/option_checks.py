"""Checks of the option values a user gives the toolkit's objects (counts, fractions, rates, callbacks).

Each returns the value as the type the code then uses, or raises `ConfigError` naming the option and what it
got, so a typo fails where it was made instead of as a raw TypeError frames later. Numpy scalars count as
numbers; booleans do not (True is an int to Python, never a count or a threshold to a user).
"""

from __future__ import annotations

import math
import numbers

from .errors import ConfigError


def positive_int(name: str, value) -> int:
    """`value` as an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value) -> int:
    """`value` as an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _real(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def fraction(name: str, value) -> float:
    """`value` as a float in 0..1 (a score or an IoU)."""
    if not _real(value) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a number in 0..1, got {value!r}")
    return float(value)


def positive_number(name: str, value, unit: str = "") -> float:
    """`value` as a finite float > 0; `unit` ("Hz", "frames/s") words the message."""
    if not _real(value) or not value > 0:
        raise ConfigError(f"{name} must be a positive number{' of ' + unit if unit else ''}, got {value!r}")
    return float(value)


def non_negative_number(name: str, value) -> float:
    """`value` as a finite float >= 0."""
    if not _real(value) or not value >= 0:
        raise ConfigError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def callback(name: str, value, arguments: str):
    """`value` when it is None or callable; `arguments` ("stage name, seconds") words the message."""
    if value is not None and not callable(value):
        raise ConfigError(f"{name} must be a callable taking ({arguments}), got {value!r}")
    return value
