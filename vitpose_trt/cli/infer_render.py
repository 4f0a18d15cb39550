"""vitpose-infer --render: the drawn copies of the inputs (DIR/<file name>, or one DIR/<stem>.mp4 per video,
camera or stream), with track ids and trails when the run tracks persons."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

from ..errors import ConfigError


def rendered_path(source, output: Path, frame_name: str) -> Path:
    """Where the drawn copy of an input image or video goes; never over the input itself."""
    target = output / (f"{source.path.stem}.mp4" if source.is_video else frame_name)
    original = source.path if source.is_video or source.path.is_file() else source.path / frame_name
    if target.resolve() == original.resolve():
        raise ConfigError(f"--render would overwrite the input {original}: choose another --output folder")
    return target


class Renderer:
    """Draws each frame's poses (and track ids and trails, given ids) into DIR/<name> or one video.

    Called as `renderer(frame, poses, track_ids=None)` in frame order (from one thread: the writer's).
    The video opens on its first frame inside `stack`, which finalises it.
    """

    def __init__(self, source, output: Path, keypoints, threshold: float, stack: ExitStack):
        from ..apps.track_render import TrackTrails

        self.source, self.output, self.keypoints, self.threshold = source, output, keypoints, threshold
        self.stack = stack
        self.video = None
        self.trails = TrackTrails()
        #: Keypoints drawn so far (all frames); none means only boxes were drawn.
        self.drawn_keypoints = 0
        if source.is_video:
            rendered_path(source, output, "")
        else:
            for path in source.files:
                rendered_path(source, output, path.name)

    def __call__(self, frame, poses, track_ids=None) -> None:
        from ..apps.media import VideoOutput, write_image

        drawn = self._drawn(frame, poses, track_ids)
        self.drawn_keypoints += int((poses.scores > self.threshold).sum())
        target = rendered_path(self.source, self.output, frame.name)
        if not self.source.is_video:
            write_image(target, drawn)
            return
        if self.video is None:
            height, width = drawn.shape[:2]
            self.video = self.stack.enter_context(VideoOutput(target, self.source.fps, (width, height)))
        self.video.write(drawn)

    def _drawn(self, frame, poses, track_ids):
        if track_ids is None:
            from ..apps.render import drawn_poses

            return drawn_poses(frame.image, poses, self.keypoints, self.threshold)
        from ..apps.track_render import drawn_tracks

        self.trails.update(track_ids, poses.boxes)
        return drawn_tracks(frame.image, poses, track_ids, self.trails, self.keypoints, self.threshold)

    def replay(self, records: Iterable[dict], tracked: bool = False) -> None:
        """Draw again the frames or images a stopped run did, from their poses in the stream (no estimation),
        so that a resumed run's video is whole and every image done is drawn, whether or not the stopped run
        rendered."""
        import numpy as np

        from ..apps.results_stream import poses_from_record

        pairs = self._video_frames_with(records) if self.source.is_video else self._images_with(records)
        for frame, record in pairs:
            ids = np.array([p["track_id"] for p in record["persons"]], np.int64) if tracked else None
            self(frame, poses_from_record(record, self.keypoints.num_keypoints), ids)

    def _video_frames_with(self, records: Iterable[dict]):
        """(frame, record) pairs: `records` are frames 0, 1, ... in order (a video's stream is written in frame
        order), read alongside the video's frames."""
        frames = None
        for record in records:
            frames = frames or self.source.frames()
            frame = next(frames, None)
            if frame is None or frame.index != record["frame"]:
                return
            yield frame, record

    def _images_with(self, records: Iterable[dict]):
        """(image, record) pairs of the images `records` name, in the folder's order."""
        by_name = {record["file_name"]: record for record in records}
        if by_name:
            others = {path.name for path in self.source.files} - by_name.keys()
            for frame in self.source.frames(done=others):
                yield frame, by_name[frame.name]
