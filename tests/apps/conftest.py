"""Fixtures of the infer/eval tests: a tiny ONNX model, a second checkpoint, real photos on disk, a generated video."""

from __future__ import annotations

import numpy as np
import pytest
from apps_data import PHOTOS, VIDEO_FRAMES, VIDEO_SIZE, WALKING_FRAMES, coco_file_name


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model, tmp_path_factory):
    """The tiny random-weight model exported to ONNX once (read-only)."""
    from vitpose_trt.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("apps-onnx") / "vitpose-tiny.onnx")


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory):
    """A differently seeded tiny model saved as an official-layout .pth (the torch backend loads it)."""
    import torch

    import vitpose_trt as vt

    torch.manual_seed(1234)
    model = vt.load_model(name="vitpose-tiny")
    path = tmp_path_factory.mktemp("apps-pth") / "other-tiny.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory):
    """A folder of real photos under COCO-style names (000000000001.jpg, ...), BGR on disk via OpenCV."""
    import cv2
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    for image_id, name, suffix in PHOTOS:
        cv2.imwrite(str(folder / coco_file_name(image_id, suffix)), getattr(data, name)()[:, :, ::-1])
    return folder


@pytest.fixture(scope="session")
def short_video(tmp_path_factory):
    """A VIDEO_FRAMES-frame mp4 of a crop of the astronaut photo sliding right, written with cv2.VideoWriter."""
    import cv2
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    width, height = VIDEO_SIZE
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (width, height))
    for index in range(VIDEO_FRAMES):
        writer.write(np.ascontiguousarray(photo[100 : 100 + height, 150 + 10 * index : 150 + 10 * index + width]))
    writer.release()
    return path


@pytest.fixture(scope="session")
def grid_detector_onnx(tmp_path_factory):
    """The YOLO-layout grid test detector (video_scenes.py): it finds the figures painted into the frames."""
    from video_scenes import grid_detector

    return grid_detector(tmp_path_factory.mktemp("grid-detector") / "grid-yolo.onnx")


@pytest.fixture(scope="session")
def walking_video(tmp_path_factory):
    """(path, truth) of a WALKING_FRAMES-frame mp4 of three figures: two crossing, one hidden for four frames."""
    from video_scenes import scene_frames, write_video

    images, truth = scene_frames(WALKING_FRAMES)
    return write_video(tmp_path_factory.mktemp("walking") / "walking.mp4", images), truth
