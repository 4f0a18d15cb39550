"""Frame sources and outputs: image ids from file names, folders, videos, atomic outputs."""

from __future__ import annotations

import numpy as np
import pytest
from apps_data import PHOTOS, VIDEO_FRAMES, VIDEO_SIZE

from vitpose_trt.apps.media import (
    MediaSource,
    VideoOutput,
    image_id_from_file_name,
    image_ids_for,
    write_image,
)
from vitpose_trt.errors import InputError


@pytest.mark.parametrize("name, expected", [
    ("000000397133.jpg", 397133), ("COCO_val2014_000000397133.jpg", 397133), ("42.png", 42),
    ("astronaut.jpg", None), ("frame_12.jpg", None), ("12a.jpg", None),
])
def test_image_id_from_coco_style_file_names(name, expected):
    assert image_id_from_file_name(name) == expected


def test_coco_named_files_keep_their_ids_and_the_others_are_numbered_after_them():
    assert image_ids_for(["000000000007.jpg", "000000000003.png"]) == [7, 3]
    assert image_ids_for(["cat.png", "dog.png"]) == [0, 1]
    # A stray file or a repeated id leaves the COCO files their ids (which detections are matched by).
    assert image_ids_for(["000000000007.jpg", "cat.png", "000000000003.png"]) == [7, 8, 3]
    assert image_ids_for(["7.jpg", "000000000007.png", "x.png"]) == [7, 8, 9]


def test_folder_source_reads_every_photo_in_name_order(photo_folder):
    from skimage import data

    frames = list(MediaSource(photo_folder))
    assert [f.image_id for f in frames] == [i for i, _, _ in PHOTOS]
    for frame, (_, name, suffix) in zip(frames, PHOTOS):
        rgb = getattr(data, name)()
        assert frame.image.shape == rgb.shape and frame.image.dtype == np.uint8
        if suffix == ".png":  # lossless: exactly the photo, in BGR order
            np.testing.assert_array_equal(frame.image, rgb[:, :, ::-1])


def test_video_source_counts_and_yields_every_frame(short_video):
    source = MediaSource(short_video)
    assert source.is_video and len(source) == VIDEO_FRAMES and source.fps == pytest.approx(10.0)
    frames = list(source)
    assert [f.image_id for f in frames] == list(range(VIDEO_FRAMES))
    assert all(f.image.shape == (VIDEO_SIZE[1], VIDEO_SIZE[0], 3) for f in frames)
    assert frames[0].name == "walk/0"


def test_video_output_appears_when_complete_or_interrupted_never_after_an_error(tmp_path):
    frame = np.full((48, 64, 3), 128, np.uint8)
    with pytest.raises(RuntimeError), VideoOutput(tmp_path / "a.mp4", 5.0, (64, 48)) as video:
        video.write(frame)
        raise RuntimeError("failed")
    assert list(tmp_path.iterdir()) == []
    with VideoOutput(tmp_path / "b.mp4", 5.0, (64, 48)) as video:
        for _ in range(3):
            video.write(frame)
    assert [p.name for p in tmp_path.iterdir()] == ["b.mp4"] and len(MediaSource(tmp_path / "b.mp4")) == 3
    with pytest.raises(KeyboardInterrupt), VideoOutput(tmp_path / "c.mp4", 5.0, (64, 48)) as video:
        video.write(frame)
        video.write(frame)
        raise KeyboardInterrupt  # Ctrl-C: the frames so far, in a file that plays
    assert len(list(MediaSource(tmp_path / "c.mp4"))) == video.frames_written == 2


def test_unusable_inputs_raise_input_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "clip.mp4").write_bytes(b"not a video")
    for path, message in [(tmp_path / "missing.png", "no such file"), (tmp_path / "empty", "no images"),
                          (tmp_path / "clip.mp4", "cannot open this video")]:
        with pytest.raises(InputError, match=message):
            MediaSource(path)
    with pytest.raises(InputError, match="cannot encode"):
        write_image(tmp_path / "x.unknown", np.zeros((4, 4, 3), np.uint8))


def test_frames_reach_a_model_in_its_color_order(photo_folder, tiny_onnx):
    """Sources decode BGR; an estimator built for RGB images gets them reversed, so both give the same poses."""
    import vitpose_trt as vt
    from vitpose_trt.apps.inference import results_for_frames, whole_image_boxes

    frame = next(iter(MediaSource(photo_folder).frames()))
    np.testing.assert_array_equal(frame.image_in("rgb"), frame.image[:, :, ::-1])
    assert frame.image_in("bgr") is frame.image
    found = {color: results_for_frames(vt.PoseEstimator(tiny_onnx, color=color), MediaSource(photo_folder).frames(),
                                       whole_image_boxes, progress=False)[0] for color in ("bgr", "rgb")}
    assert len(found["rgb"]) == len(PHOTOS)
    for bgr, rgb in zip(found["bgr"], found["rgb"]):
        np.testing.assert_allclose(rgb["keypoints"], bgr["keypoints"], atol=1e-3)
