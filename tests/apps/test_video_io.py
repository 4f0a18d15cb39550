"""Video input and output around `VideoPoses` (issue 15): the background stage threads (`prefetched`,
`ThreadedSink`), camera and stream sources (a real HTTP stream on the loopback interface), and the two
encoders of rendered videos (OpenCV mp4v, PyAV H.264)."""

from __future__ import annotations

import functools
import http.server
import threading
import time

import numpy as np
import pytest

from vitpose_trt.apps.live_sources import CaptureSource, _PyAvReader, frame_source
from vitpose_trt.apps.media import MediaSource, VideoOutput
from vitpose_trt.apps.pipeline_threads import ThreadedSink, prefetched
from vitpose_trt.errors import ConfigError, InputError


def test_prefetched_keeps_order_runs_ahead_by_at_most_depth_and_passes_errors_on():
    produced = []

    def items():
        for i in range(6):
            produced.append(i)
            yield i
        raise RuntimeError("source broke after 6")

    got = []
    with pytest.raises(RuntimeError, match="source broke after 6"):
        for item in prefetched(items(), depth=2):
            time.sleep(0.02)
            assert len(produced) - len(got) <= 2 + 2  # queued + one being put + one being handed out
            got.append(item)
    assert got == list(range(6))


def test_prefetched_stops_its_producer_when_the_consumer_leaves():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    stream = prefetched(endless(), depth=3, name="vitpose-test")
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    assert closed.wait(5) and not [t for t in threading.enumerate() if t.name == "vitpose-test"]


def test_threaded_sink_consumes_in_order_in_another_thread_and_raises_its_error():
    seen, threads = [], set()
    with ThreadedSink(lambda item: (seen.append(item), threads.add(threading.current_thread().name)), 2) as sink:
        for i in range(20):
            sink.put(i)
    assert seen == list(range(20)) and threads == {"sink"}

    def fail_at_three(item):
        if item == 3:
            raise ValueError("disk full")

    sink = ThreadedSink(fail_at_three, 1)
    with pytest.raises(ValueError, match="disk full"):
        for i in range(50):
            sink.put(i)
        sink.close()


@pytest.fixture
def served_video(short_video):
    """http://127.0.0.1:PORT/walk.mp4: the short video served by a local HTTP server (loopback only)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(short_video.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{short_video.name}"
    server.shutdown()
    thread.join()


def test_a_stream_url_gives_the_frames_of_the_file_it_serves(served_video, short_video):
    source = frame_source(served_video)
    assert isinstance(source, CaptureSource) and source.is_live and len(source) == 0
    assert source.name == "walk" and source.fps == pytest.approx(10.0)
    told = []
    streamed = list(source.frames(on_unreadable=lambda name, why: told.append(why)))
    from_file = list(MediaSource(short_video))
    assert [f.name for f in streamed] == [f"walk/{i}" for i in range(len(from_file))]
    for a, b in zip(streamed, from_file):
        np.testing.assert_array_equal(a.image, b.image)
    assert told == []  # it ended where the file does: not a broken stream


def test_pyav_reads_a_stream_too(served_video, short_video):
    reader = _PyAvReader(served_video)
    images = []
    while (image := reader.read()[0]) is not None:
        images.append(image)
    reader.close()
    assert len(images) == len(MediaSource(short_video)) and images[0].shape == (120, 160, 3)


def test_sources_by_name_and_what_cannot_be_opened(short_video, tmp_path):
    assert isinstance(frame_source(str(short_video)), MediaSource)
    with pytest.raises(InputError, match="camera 9: OpenCV cannot open it"):
        frame_source(9)
    with pytest.raises(InputError, match="neither OpenCV nor PyAV"):
        frame_source("http://127.0.0.1:9/nothing.mp4")  # nothing listens on the discard port
    with pytest.raises(InputError):
        frame_source(True)


@pytest.mark.parametrize("codec", ["h264", "mp4v"])
def test_rendered_videos_play_in_either_codec_and_odd_sizes_fall_back_to_mp4v(tmp_path, codec):
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    with VideoOutput(tmp_path / "out.mp4", 10.0, (64, 48), codec=codec) as video:
        for frame in frames:
            video.write(frame)
    assert video.codec == codec
    decoded = list(MediaSource(tmp_path / "out.mp4"))
    assert len(decoded) == 5 and abs(int(decoded[3].image.mean()) - 120) < 8
    with VideoOutput(tmp_path / "odd.mp4", 10.0, (63, 47)) as odd:
        odd.write(np.zeros((47, 63, 3), np.uint8))
    assert odd.codec == "mp4v" and len(MediaSource(tmp_path / "odd.mp4")) == 1
    with pytest.raises(ConfigError, match="unknown video codec"), VideoOutput(tmp_path / "x.mp4", 10.0, (64, 48), "vp9"):
        pass
    assert not (tmp_path / "x.mp4").exists()


def test_trails_keep_the_last_frames_of_each_track_and_forget_tracks_gone_that_long():
    from vitpose_trt.apps.track_render import TrackTrails, track_color

    trails = TrackTrails(length=3)
    for step in range(5):
        ids = np.array([1, 2] if step < 2 else [1])
        trails.update(ids, np.array([[step, 0.0, step + 2, 10.0]] * len(ids)))
    assert trails.points(1) == [(3.0, 10.0), (4.0, 10.0), (5.0, 10.0)]  # feet: bottom centre, oldest first
    assert trails.points(2) == [] and len(trails) == 1  # unseen for 3 frames: forgotten
    assert len({track_color(i) for i in range(1, 11)}) == 10
