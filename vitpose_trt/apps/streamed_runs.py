"""A run over many inputs that loses nothing: unreadable inputs are left out and listed, results go to a
stream as they come, and the final results file is made from the stream however the run ends.

Shared by vitpose-infer and vitpose-eval. A `StreamedRun` is the stream of one run plus what an earlier,
stopped run of the same identity already did (`--resume`); `StreamedRun.execute` runs a loop under a
`StopRequest` (Ctrl-C / SIGTERM stop it between frames) and writes the results file at the end, after a
stop, and before an error propagates. `SkippedInputs` is the frame sources' `on_unreadable`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from ..atomic_files import write_text_atomically
from ..errors import InputError
from .interruption import StopRequest
from .results_stream import (
    ResultsStream,
    coco_results,
    frames_from_stream,
    resumable_file_names,
)

#: Skipped inputs named in a closing summary; the rest are counted (each had its warning line).
MAX_LISTED_SKIPS = 10
#: What `execute` records as `stopped_by` when a second Ctrl-C broke off the frame at hand.
IMMEDIATE_STOP = "a second Ctrl-C"


class SkippedInputs:
    """`on_unreadable(name, reason)` of the frame sources: one warning line on stderr per input, and
    `items` [(name, reason)] for the closing summary. strict=True raises `InputError` instead, so the
    first unreadable input ends the run (the results so far are still written)."""

    def __init__(self, strict: bool = False):
        self.strict = strict
        self.items: list[tuple[str, str]] = []

    def __call__(self, name: str, reason: str) -> None:
        if self.strict:
            raise InputError(f"{name}: {reason}")
        from tqdm import tqdm

        tqdm.write(f"warning: skipped {name}: {reason}", file=sys.stderr)  # above a progress bar, if one is shown
        self.items.append((name, reason))

    def __len__(self) -> int:
        return len(self.items)

    def summary(self) -> str:
        """"M skipped: a.jpg (empty file (0 bytes)), ..." ("" when none was)."""
        if not self.items:
            return ""
        listed = ", ".join(f"{name} ({reason})" for name, reason in self.items[:MAX_LISTED_SKIPS])
        more = len(self.items) - MAX_LISTED_SKIPS
        return f"{len(self.items)} skipped: {listed}" + (f" and {more} more (see the warnings above)" if more > 0 else "")


class StreamedRun:
    """One run's results stream (`ResultsStream` at `stream`, sidecar identity `identity`).

    resume=True takes over the frames an earlier run with the same identity wrote (`done_names`,
    `done_count`) and appends; otherwise the stream starts over. `stopped_by` names what stopped the
    run early ("SIGINT", "SIGTERM", IMMEDIATE_STOP) after `execute`, None when it ran to the end.
    """

    def __init__(self, stream: str | Path, identity: dict, resume: bool = False):
        names = resumable_file_names(stream, identity) if resume else []
        self.done_names, self.done_count = frozenset(names), len(names)
        self.stream = ResultsStream(stream, identity, resume=resume)
        self.stopped_by: str | None = None
        #: The "frame" of the last record written by this run (None before the first).
        self.last_frame: int | None = None
        #: What the last `save` wrote (None before it).
        self.results: list | None = None
        self._results_file: str | Path | None = None

    def write(self, record: dict) -> None:
        """Append one frame's record (an `on_frame` callback's third argument) to the stream. The first
        record of a fresh stream also removes the results file made from the stream it replaces, so a
        results file never describes another stream than the one beside it."""
        if not self.stream.started and not self.done_count and self._results_file is not None:
            Path(self._results_file).unlink(missing_ok=True)
        self.stream.write(record)
        self.last_frame = record.get("frame")

    @property
    def frames_done(self) -> int:
        """Frames in the stream: those of earlier runs plus those written now."""
        return self.done_count + self.stream.written

    def records(self) -> list[dict]:
        """Every record of the stream (earlier runs' and this one's), in file order."""
        return list(self.iter_records())

    def iter_records(self) -> Iterator[dict]:
        """The stream's records one at a time, in file order (e.g. to draw the frames done before again)."""
        return frames_from_stream(self.stream.path)

    def execute(self, loop: Callable[[StopRequest], object], results: str | Path,
                results_from: Callable[[list[dict]], list[dict]] = coco_results):
        """Return `loop(stop)`'s value (None when a second Ctrl-C broke it off), having written
        `results_from(records)` as JSON to `results` atomically: at the end, after a stop, and before
        an error propagates (whenever the stream holds anything, or the loop finished)."""
        self._results_file = results
        with StopRequest() as stop:
            try:
                value = loop(stop)
            except KeyboardInterrupt:
                value, self.stopped_by = None, IMMEDIATE_STOP
            except BaseException:
                self.stream.close()
                if self.frames_done:
                    self.save(results, results_from)
                raise
            self.stopped_by = self.stopped_by or stop.signal_name
            self.stream.close()
            if self.frames_done or self.stopped_by is None:
                self.stream.open().close()  # a finished run that wrote nothing still leaves its (empty) stream
                self.save(results, results_from)
        return value

    def save(self, results: str | Path, results_from: Callable[[list[dict]], list[dict]] = coco_results) -> list:
        """Write `results_from(records)` to `results` (JSON, atomically) and return it."""
        self.results = results_from(self.records())
        write_text_atomically(results, json.dumps(self.results))
        return self.results
