"""Keypoint sets: names, flip pairs, skeleton, COCO-eval sigmas and the official test-time settings.

Each ViTPose head was trained and evaluated with one pre/post-processing recipe (see FIELD.md):
COCO and MPII use the UDP warp, flip test without heatmap shift and DARK-UDP decoding; AIC, AP-10K,
APT-36K and COCO-WholeBody use the classic warp, flip test with a 1-pixel heatmap shift and argmax +
quarter-offset decoding. Indices are 0-based; skeleton edges are (from, to) keypoint indices.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

WARPS = ("udp", "classic")
DECODERS = ("argmax", "quarter-offset", "dark", "dark-udp")
#: Gaussian blur kernel of the DARK / DARK-UDP heatmap modulation in the official configs.
DARK_BLUR_KERNEL = 11


@dataclass(frozen=True)
class KeypointSet:
    """A dataset's keypoints and its official test-time pipeline settings."""

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...] | None
    warp: str
    flip_test: bool
    flip_shift: bool
    decode: str
    blur_kernel: int = DARK_BLUR_KERNEL

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Permutation p with mirrored keypoint i = original keypoint p[i]."""
        index = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return tuple(index)

    def pipeline_settings(self) -> dict:
        """The pre/post settings as plain data (ONNX metadata, engine sidecars)."""
        return {
            "keypoint_set": self.name,
            "warp": self.warp,
            "flip_test": self.flip_test,
            "flip_shift": self.flip_shift,
            "decode": self.decode,
            "blur_kernel": self.blur_kernel,
        }


_UDP_DARK = dict(warp="udp", flip_test=True, flip_shift=False, decode="dark-udp")
_CLASSIC = dict(warp="classic", flip_test=True, flip_shift=True, decode="quarter-offset")

_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_COCO_FLIP = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
_COCO_SKELETON = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
_COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
    0.087, 0.087, 0.089, 0.089,
)  # fmt: skip

COCO = KeypointSet("coco", _COCO_NAMES, _COCO_FLIP, _COCO_SKELETON, _COCO_SIGMAS, **_UDP_DARK)

AIC = KeypointSet(
    "aic",
    ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
     "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "head_top", "neck"),
    ((0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11)),
    ((2, 1), (1, 0), (0, 13), (13, 3), (3, 4), (4, 5), (8, 7), (7, 6), (6, 9), (9, 10), (10, 11),
     (12, 13), (0, 6), (3, 9)),
    (0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
     0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173),
    **_CLASSIC,
)  # fmt: skip

MPII = KeypointSet(
    "mpii",
    ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
     "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
     "left_shoulder", "left_elbow", "left_wrist"),
    ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    ((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (8, 12), (12, 11),
     (11, 10), (8, 13), (13, 14), (14, 15)),
    (0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062, 0.072, 0.179,
     0.179, 0.072, 0.062),
    **_UDP_DARK,
)  # fmt: skip

_ANIMAL_NAMES = (
    "left_eye", "right_eye", "nose", "neck", "root_of_tail", "left_shoulder", "left_elbow",
    "left_front_paw", "right_shoulder", "right_elbow", "right_front_paw", "left_hip", "left_knee",
    "left_back_paw", "right_hip", "right_knee", "right_back_paw",
)  # fmt: skip
_ANIMAL_FLIP = ((0, 1), (5, 8), (6, 9), (7, 10), (11, 14), (12, 15), (13, 16))
_ANIMAL_SKELETON = (
    (0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (3, 8), (8, 9), (9, 10),
    (4, 11), (11, 12), (12, 13), (4, 14), (14, 15), (15, 16),
)  # fmt: skip
_ANIMAL_SIGMAS = (
    0.025, 0.025, 0.026, 0.035, 0.035, 0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087,
    0.089, 0.107, 0.087, 0.089,
)  # fmt: skip

AP10K = KeypointSet("ap10k", _ANIMAL_NAMES, _ANIMAL_FLIP, _ANIMAL_SKELETON, _ANIMAL_SIGMAS, **_CLASSIC)
APT36K = KeypointSet("apt36k", _ANIMAL_NAMES, _ANIMAL_FLIP, _ANIMAL_SKELETON, _ANIMAL_SIGMAS, **_CLASSIC)


def _wholebody() -> KeypointSet:
    feet = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    face = tuple(f"face_{i}" for i in range(68))
    hands = tuple(f"{side}_hand_{i}" for side in ("left", "right") for i in range(21))
    names = _COCO_NAMES + feet + face + hands
    face0, left0, right0 = 23, 91, 112
    # 68-point face landmarks mirrored left<->right (jaw, brows, nostrils, eyes, outer and inner lips).
    face_pairs = (
        [(i, 16 - i) for i in range(8)]
        + [(17 + i, 26 - i) for i in range(5)]
        + [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
        + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    )
    flip = (
        _COCO_FLIP
        + ((17, 20), (18, 21), (19, 22))
        + tuple((face0 + a, face0 + b) for a, b in face_pairs)
        + tuple((left0 + i, right0 + i) for i in range(21))
    )
    hand_edges = [(0, 1 + 4 * f) for f in range(5)] + [(1 + 4 * f + j, 2 + 4 * f + j) for f in range(5) for j in range(3)]
    skeleton = (
        _COCO_SKELETON
        + ((15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22))
        + tuple((left0 + a, left0 + b) for a, b in hand_edges)
        + tuple((right0 + a, right0 + b) for a, b in hand_edges)
    )
    return KeypointSet("wholebody", names, flip, skeleton, None, **_CLASSIC)


WHOLEBODY = _wholebody()

#: Every known keypoint set by name.
KEYPOINT_SETS: dict[str, KeypointSet] = {
    s.name: s for s in (COCO, AIC, MPII, AP10K, APT36K, WHOLEBODY)
}


def keypoint_set_by_name(name: str) -> KeypointSet:
    """Return the keypoint set called `name`, or raise `ConfigError` listing the valid names."""
    try:
        return KEYPOINT_SETS[name]
    except KeyError:
        raise ConfigError(f"unknown keypoint set / dataset {name!r}; valid: {', '.join(KEYPOINT_SETS)}") from None


def keypoint_set_by_count(num_keypoints: int) -> KeypointSet:
    """Return the first keypoint set with `num_keypoints` keypoints (17 -> coco), or raise `ConfigError`."""
    for kset in KEYPOINT_SETS.values():
        if kset.num_keypoints == num_keypoints:
            return kset
    raise ConfigError(f"no keypoint set has {num_keypoints} keypoints; pass dataset= explicitly")
