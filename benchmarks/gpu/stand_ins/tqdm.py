"""A do-nothing stand-in for tqdm: run.sh puts it on the benchmark's path only when tqdm is not installed.

vitpose-bench draws a progress bar with tqdm and cannot start without it; the GPU machines this check runs
on may lack it and have no network. This class covers the part of tqdm's interface the benchmark uses and
draws nothing, so the timings are unaffected; the results' notes say when it was used.
"""

from __future__ import annotations


class tqdm:  # noqa: N801 - the name tqdm's users import
    def __init__(self, iterable=None, *args, **kwargs):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> bool:
        return False

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass
