"""In-process poses computed in the serving environment: the reference the served poses must equal.

Usage: python reference_poses.py MODEL CASES.npz OUT.npz, where CASES.npz holds image_<i> (H, W, 3) uint8
RGB and boxes_<i> (N, 4); OUT.npz gets keypoints_<i> and scores_<i> from `PoseEstimator(MODEL)` run in this
interpreter. The serving environment pins numpy 1.x and so another OpenCV build than the test
environment, whose warps differ in the last bits: comparing with a reference made here isolates what
serving adds (nothing, it must be exact) from what the environments differ by.
"""

from __future__ import annotations

import sys

import numpy as np

from vitpose_trt.runtime import PoseEstimator


def main(model: str, cases_path: str, out_path: str) -> int:
    cases = np.load(cases_path)
    estimator = PoseEstimator(model, color="rgb", threads=1)
    count = len([name for name in cases.files if name.startswith("image_")])
    out = {}
    for index in range(count):
        poses = estimator(cases[f"image_{index}"], cases[f"boxes_{index}"])
        out[f"keypoints_{index}"], out[f"scores_{index}"] = poses.keypoints, poses.scores
    np.savez(out_path, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
