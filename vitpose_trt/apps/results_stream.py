"""Results written as a run goes: one JSON line per frame, and the COCO results file made from them at the end.

The stream (`<name>.jsonl`, UTF-8, one JSON object per line, each line flushed when written)::

    {"frame": 0, "time": null, "image_id": 397133, "file_name": "000000397133.jpg",
     "persons": [{"track_id": null, "bbox": [x, y, w, h], "score": 0.71, "box_score": null,
                  "category_id": 1, "keypoints": [x, y, s, x, y, s, ...]}]}

frame: the frame's place in its source (a video's 0-based frame index; a file's place in the sorted
folder or in the annotation file); time: seconds from the start of a video, null for images; bbox: COCO
xywh, image px; score: the pose score (`Poses.pose_scores`: mean visible keypoint score x box score);
box_score: the detector's score, null when the boxes came without one; keypoints: [x, y, score] * K, image
px; track_id: the tracker's id, null without tracking. A frame without persons has "persons": [].

Beside it, `<name>.run.json` holds the identity of the run that wrote it (command, model, input, the
options that change results), so `--resume` appends only to a stream of the same run. A crash in the
middle of a write leaves at most an unterminated last line: `frames_from_stream` ignores it and a
resuming `ResultsStream` cuts it off before appending. Standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..atomic_files import write_bytes_atomically, write_text_atomically
from ..errors import ConfigError, InputError
from ..runtime.poses import float32_values

STREAM_SUFFIX = ".jsonl"
RUN_SUFFIX = ".run.json"
#: Identity keys holding a file's content fingerprint (`run_identity`); a sidecar written before they were
#: recorded lacks them, and its stream still resumes.
FINGERPRINT_SUFFIX = "_fingerprint"
#: Bytes read at a time while looking backwards for a stream's last complete line.
_TAIL_BLOCK = 1 << 16


def run_file(stream: str | Path) -> Path:
    """The identity sidecar of a stream: results.jsonl -> results.run.json."""
    stream = Path(stream)
    return stream.with_name(stream.name.removesuffix(STREAM_SUFFIX) + RUN_SUFFIX)


def frame_record(frame, poses, categories: Iterable[int], track_ids: Iterable[int | None] | None = None) -> dict:
    """The stream line of one frame: `frame` a `media.Frame`, `poses` its `Poses` (N persons),
    `categories` (N,) COCO category ids of the boxes, `track_ids` (N,) or None (no tracking)."""
    box_scores = float32_values(poses.box_scores) if poses.box_scores is not None else [None] * len(poses)
    tracks = list(track_ids) if track_ids is not None else [None] * len(poses)
    persons = [{"track_id": track, "bbox": coco["bbox"], "score": coco["score"], "box_score": box_score,
                "category_id": int(category), "keypoints": coco["keypoints"]}
               for coco, track, box_score, category
               in zip(poses.to_coco(frame.image_id), tracks, box_scores, categories)]
    return {"frame": frame.index, "time": frame.time, "image_id": frame.image_id, "file_name": frame.name,
            "persons": persons}


def poses_from_record(record: dict, num_keypoints: int):
    """The `Poses` of a stream record (e.g. to draw a frame again): keypoints (N, K, 2), scores (N, K),
    boxes (N, 4) xyxy, float32, image px; box_scores (N,) when every person has one."""
    import numpy as np

    from ..runtime.poses import Poses

    persons = record["persons"]
    triples = np.array([p["keypoints"] for p in persons], np.float32).reshape(len(persons), num_keypoints, 3)
    boxes = np.array([p["bbox"] for p in persons], np.float32).reshape(len(persons), 4)
    boxes[:, 2:] += boxes[:, :2]
    box_scores = [p["box_score"] for p in persons]
    return Poses(keypoints=triples[:, :, :2].copy(), scores=triples[:, :, 2].copy(), boxes=boxes,
                 box_scores=np.array(box_scores, np.float32) if persons and None not in box_scores else None)


def coco_results(records: Iterable[dict]) -> list[dict]:
    """COCO keypoint results (image_id, category_id, keypoints, score, bbox, file_name) of stream records,
    in frame order (a resumed run may have appended a retried frame after later ones)."""
    ordered = sorted(records, key=lambda r: r["frame"] if r["frame"] is not None else -1)
    return [{"image_id": r["image_id"], "category_id": p["category_id"], "keypoints": p["keypoints"],
             "score": p["score"], "bbox": p["bbox"], "file_name": r["file_name"]}
            for r in ordered for p in r["persons"]]


def coco_results_from_stream(stream: str | Path) -> list[dict]:
    """`coco_results` of every complete line of `stream` ([] when it does not exist)."""
    return coco_results(frames_from_stream(stream))


def frames_from_stream(stream: str | Path) -> Iterator[dict]:
    """The records of `stream`, one per complete line, in file order; nothing when it does not exist.

    An unterminated last line (a crash in the middle of a write) is ignored; any other line that is not a
    JSON object with "frame" and "persons" raises `InputError`.
    """
    stream = Path(stream)
    if not stream.exists():
        return
    with open(stream, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith(b"\n"):
                return
            try:
                record = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                record = None
            if not isinstance(record, dict) or "frame" not in record or "persons" not in record:
                raise InputError(f"{stream}:{number}: not a results line (the stream is damaged; start over "
                                 "without --resume)")
            yield record


def _complete_length(path: Path) -> int:
    """Bytes of `path` up to and including its last newline (0 when there is none)."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - _TAIL_BLOCK)
            handle.seek(start)
            newline = handle.read(end - start).rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            end = start
    return 0


def resumable_file_names(stream: str | Path, identity: dict) -> list[str]:
    """The file names (`Frame.name`) of the frames already in `stream` when it was written by a run with
    this `identity` ([] when there is no stream); `ConfigError` naming the differences when it belongs to
    another run. Only the names are kept: a stream of a night-long video need not fit in memory twice."""
    stream = Path(stream)
    if not stream.exists():
        return []
    sidecar = run_file(stream)
    try:
        written_by = json.loads(sidecar.read_text())["identity"]
        if not isinstance(written_by, dict):
            raise TypeError("the identity is no JSON object")
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"--resume: {sidecar} is missing or unreadable, so it is unknown which run wrote "
                          f"{stream}; start over without --resume") from None
    ours = json.loads(json.dumps(identity))  # the same JSON round trip the sidecar went through
    keys = set(written_by) | {key for key in ours if key in written_by or not key.endswith(FINGERPRINT_SUFFIX)}
    differences = [f"{key} {written_by.get(key)!r} there, {ours.get(key)!r} now"
                   for key in sorted(keys) if written_by.get(key) != ours.get(key)]
    if differences:
        raise ConfigError(f"--resume: {stream} belongs to another run ({'; '.join(differences)}); use another "
                          "--output folder, or drop --resume to start over")
    return [record["file_name"] for record in frames_from_stream(stream)]


class ResultsStream:
    """Appends one line per frame to `path`, flushing each (and fsyncing it when `fsync`).

    Nothing is touched until the first `write` (or `open`): a run that fails before its first frame
    leaves an earlier stream as it was. A fresh stream atomically replaces an old one (an empty file
    moved over it, then the `.run.json` sidecar with `identity`); `resume=True` keeps the old lines,
    cutting off an unterminated last one, and appends.
    """

    def __init__(self, path: str | Path, identity: dict, *, resume: bool = False, fsync: bool = False):
        self.path, self.identity, self.resume, self.fsync = Path(path), identity, resume, fsync
        self.written = 0
        self._handle = None
        self._started = False

    @property
    def started(self) -> bool:
        """Whether this writer has created (or taken over) the file yet."""
        return self._started

    def open(self) -> ResultsStream:
        """Create or take over the file (first call only) and open it for appending; return self."""
        if self._handle is not None:
            return self
        if not self._started and self.resume and self.path.exists():
            with open(self.path, "r+b") as handle:
                handle.truncate(_complete_length(self.path))
        elif not self._started:
            write_bytes_atomically(self.path, b"")
            document = {"stream": self.path.name, "identity": self.identity}
            write_text_atomically(run_file(self.path), json.dumps(document, indent=2) + "\n")
        self._started = True
        self._handle = open(self.path, "a", encoding="utf-8")
        return self

    def write(self, record: dict) -> None:
        """Append `record` (see `frame_record`) as one line and flush it."""
        self.open()
        self._handle.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())
        self.written += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> ResultsStream:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
