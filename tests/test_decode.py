"""decode: heatmaps -> keypoints on synthetic Gaussians, against loop references of the official decoders
(OpenCV for the blur), against HF transformers' DARK-UDP, and flip-back; the CuPy path where a GPU exists."""

from __future__ import annotations

import numpy as np
import pytest

from vitpose_trt import KEYPOINT_SETS
from vitpose_trt import decode as d
from vitpose_trt.errors import ConfigError, InputError
from vitpose_trt.specs import HEATMAP_HEIGHT, HEATMAP_WIDTH

#: Training targets of ViTPose at 64x48 are Gaussians with sigma 2 (what blur kernel 11 is matched to).
TARGET_SIGMA = 2.0
#: Centres at least the blur radius inside the map: the border band is where the decoders are biased.
MARGIN = 5
METHODS = ("argmax", "quarter-offset", "dark", "dark-udp")
cv2 = pytest.importorskip("cv2")


def gaussian_heatmaps(centers, amplitude=1.0, sigma=TARGET_SIGMA, size=(HEATMAP_HEIGHT, HEATMAP_WIDTH)):
    """(N, K, h, w) float32 Gaussians at (N, K, 2) sub-pixel centres (x, y)."""
    rows, cols = np.mgrid[0 : size[0], 0 : size[1]]
    dx = cols - centers[..., 0, None, None]
    dy = rows - centers[..., 1, None, None]
    return (np.asarray(amplitude)[..., None, None] * np.exp(-(dx**2 + dy**2) / (2 * sigma**2))).astype(np.float32)


def random_centers(rng, n, k, margin=MARGIN):
    low = (margin, margin)
    high = (HEATMAP_WIDTH - 1 - margin, HEATMAP_HEIGHT - 1 - margin)
    return rng.uniform(low, high, size=(n, k, 2))


def noisy_heatmaps(rng, n=3, k=5):
    """Peaked maps plus noise and a second, weaker peak: realistic enough to exercise every branch."""
    maps = gaussian_heatmaps(random_centers(rng, n, k, margin=0), amplitude=rng.uniform(0.3, 1.0, (n, k)))
    maps += gaussian_heatmaps(random_centers(rng, n, k, margin=0), amplitude=0.2)
    return (maps + rng.uniform(-0.02, 0.05, maps.shape)).astype(np.float32)


@pytest.mark.parametrize("kset", list(KEYPOINT_SETS.values()), ids=list(KEYPOINT_SETS))
@pytest.mark.parametrize("method", ["dark", "dark-udp"])
def test_dark_recovers_subpixel_centres(kset, method):
    rng = np.random.default_rng(kset.num_keypoints)
    centers = random_centers(rng, 2, kset.num_keypoints)
    maps = gaussian_heatmaps(centers, amplitude=rng.uniform(0.2, 1.0, centers.shape[:2]))
    coords, scores = d.keypoints_from_heatmaps(maps, method)
    assert coords.shape == centers.shape and coords.dtype == np.float32
    assert scores.shape == centers.shape[:2] and scores.dtype == np.float32
    assert np.abs(coords - centers).max() < 0.05


def test_argmax_and_quarter_offset_bounds():
    rng = np.random.default_rng(7)
    centers = random_centers(rng, 4, 133)
    maps = gaussian_heatmaps(centers)
    argmax, scores = d.keypoints_from_heatmaps(maps, "argmax")
    np.testing.assert_array_equal(argmax, np.round(centers))
    np.testing.assert_array_equal(scores, maps.max(axis=(2, 3)))
    quarter, _ = d.keypoints_from_heatmaps(maps, "quarter-offset")
    assert np.abs(quarter - centers).max() <= 0.25 + 1e-6
    assert np.abs(quarter - centers).mean() < np.abs(argmax - centers).mean()
    np.testing.assert_array_equal(np.abs(quarter - argmax), 0.25)


def test_argmax_marks_non_positive_maps_with_minus_one():
    maps = noisy_heatmaps(np.random.default_rng(8))
    maps[0, 1] = -np.abs(maps[0, 1]) - 0.01
    maps[1, 2] = 0.0
    for method in METHODS:
        coords, scores = d.keypoints_from_heatmaps(maps, method)
        assert np.isfinite(coords).all()
        if method in ("argmax", "quarter-offset", "dark"):
            np.testing.assert_array_equal(coords[0, 1], [-1.0, -1.0])
            np.testing.assert_array_equal(coords[1, 2], [-1.0, -1.0])
    assert scores[0, 1] < 0 and scores[1, 2] == 0


def test_quarter_offset_uses_the_official_strict_bounds():
    """Offsets apply only when 1 < x < w - 1 and 1 < y < h - 1; a zero difference gives no offset."""
    peaks = np.array([[[1, 10], [2, 10], [HEATMAP_WIDTH - 2, 10], [HEATMAP_WIDTH - 1, 10], [10, 1], [10, 2]]])
    maps = gaussian_heatmaps(peaks + 0.3)
    coords, _ = d.keypoints_from_heatmaps(maps, "quarter-offset")
    shifted = np.array([False, True, True, False, False, True])
    np.testing.assert_array_equal(coords[0][~shifted], peaks[0][~shifted])
    np.testing.assert_array_equal(coords[0][shifted], peaks[0][shifted] + 0.25)
    symmetric, _ = d.keypoints_from_heatmaps(gaussian_heatmaps(np.array([[[20.0, 30.0]]])), "quarter-offset")
    np.testing.assert_array_equal(symmetric, [[[20.0, 30.0]]])


def _reference_dark(maps, coords, kernel):
    """Loop reference of the official DARK ("unbiased") refinement, blur by OpenCV."""
    radius, out = kernel // 2, coords.astype(np.float64).copy()
    for n, k in np.ndindex(maps.shape[:2]):
        padded = np.pad(maps[n, k], radius)
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[radius:-radius, radius:-radius]
        log = np.log(np.maximum(blurred * (maps[n, k].max() / blurred.max()), 1e-10)).astype(np.float64)
        x, y = int(coords[n, k, 0]), int(coords[n, k, 1])
        if not (1 < x < log.shape[1] - 2 and 1 < y < log.shape[0] - 2):
            continue
        gradient = 0.5 * np.array([log[y, x + 1] - log[y, x - 1], log[y + 1, x] - log[y - 1, x]])
        dxx = 0.25 * (log[y, x + 2] - 2 * log[y, x] + log[y, x - 2])
        dyy = 0.25 * (log[y + 2, x] - 2 * log[y, x] + log[y - 2, x])
        dxy = 0.25 * (log[y + 1, x + 1] - log[y - 1, x + 1] - log[y + 1, x - 1] + log[y - 1, x - 1])
        hessian = np.array([[dxx, dxy], [dxy, dyy]])
        if np.linalg.det(hessian) != 0:
            out[n, k] -= np.linalg.solve(hessian, gradient)
    return out


def _reference_dark_udp(maps, coords, kernel):
    """Loop reference of the official DARK-UDP refinement (`post_dark_udp`), blur by OpenCV."""
    out = coords.astype(np.float64).copy()
    eps = np.finfo(np.float32).eps
    for n, k in np.ndindex(maps.shape[:2]):
        blurred = cv2.GaussianBlur(maps[n, k], (kernel, kernel), 0)
        log = np.pad(np.log(np.clip(blurred, 0.001, 50)), 1, mode="edge").astype(np.float64)
        x, y = int(coords[n, k, 0]) + 1, int(coords[n, k, 1]) + 1
        gradient = 0.5 * np.array([log[y, x + 1] - log[y, x - 1], log[y + 1, x] - log[y - 1, x]])
        dxx = log[y, x + 1] - 2 * log[y, x] + log[y, x - 1]
        dyy = log[y + 1, x] - 2 * log[y, x] + log[y - 1, x]
        dxy = 0.5 * (
            log[y + 1, x + 1] - log[y, x + 1] - log[y + 1, x] + 2 * log[y, x] - log[y, x - 1] - log[y - 1, x]
            + log[y - 1, x - 1]
        )  # fmt: skip
        out[n, k] -= np.linalg.solve(np.array([[dxx, dxy], [dxy, dyy]]) + eps * np.eye(2), gradient)
    return out


@pytest.mark.parametrize("kernel", [11, 7])
@pytest.mark.parametrize("method, reference", [("dark", _reference_dark), ("dark-udp", _reference_dark_udp)])
def test_dark_matches_loop_reference_of_official_decoder(method, reference, kernel):
    maps = noisy_heatmaps(np.random.default_rng(kernel))
    argmax, _ = d.keypoints_from_heatmaps(maps, "argmax")
    coords, _ = d.keypoints_from_heatmaps(maps, method, blur_kernel=kernel)
    expected = reference(maps, argmax, kernel)
    # Only float32 rounding differs (blur summation order); measured worst case ~1e-5 px.
    np.testing.assert_allclose(coords, expected, atol=1e-4)
    assert np.median(np.abs(coords - expected)) < 1e-5
    assert np.abs(coords - argmax).max() > 0.5  # the refinement really moved points


def test_dark_udp_matches_hugging_face_with_its_blur_sigma():
    """HF's `post_dark_unbiased_data_processing` blurs with sigma 0.8 (scipy) where the official decoder
    (cv2, kernel 11) uses sigma 2.0: with blur_sigma=0.8 we reproduce HF away from the border band."""
    pytest.importorskip("scipy")
    from transformers.models.vitpose import image_processing_pil_vitpose as hf

    maps = noisy_heatmaps(np.random.default_rng(11), n=4, k=17)
    argmax, _ = d.keypoints_from_heatmaps(maps, "argmax")
    expected = hf.post_dark_unbiased_data_processing(argmax.copy(), maps.copy(), kernel=11)
    coords, _ = d.keypoints_from_heatmaps(maps, "dark-udp", blur_sigma=0.8)
    away = ((argmax >= MARGIN) & (argmax <= np.array([HEATMAP_WIDTH, HEATMAP_HEIGHT]) - 1 - MARGIN)).all(axis=2)
    assert away.mean() > 0.5
    np.testing.assert_allclose(coords[away], expected[away], atol=1e-4)
    official, _ = d.keypoints_from_heatmaps(maps, "dark-udp")
    assert np.abs(official - coords).max() > 1e-3  # the two sigmas really differ


def test_decode_and_mapping_match_hugging_face_post_process():
    """HF's full `post_process_pose_estimation` (argmax, DARK-UDP with its sigma 0.8, UDP transform_preds)
    against keypoints_from_heatmaps(blur_sigma=0.8) + geometry.image_points_from_heatmap, same xywh boxes."""
    pytest.importorskip("scipy")
    torch = pytest.importorskip("torch")
    from transformers import VitPoseImageProcessorPil
    from transformers.models.vitpose.modeling_vitpose import VitPoseEstimatorOutput

    from vitpose_trt.geometry import boxes_xyxy, image_points_from_heatmap

    boxes_xywh = np.array([[130.0, 20.0, 220.0, 480.0], [10.0, 300.0, 400.0, 90.0], [100.25, 33.5, 77.75, 120.125]])
    rng = np.random.default_rng(12)
    centers = random_centers(rng, len(boxes_xywh), 17)
    maps = gaussian_heatmaps(centers, amplitude=rng.uniform(0.2, 1.0, centers.shape[:2]))
    maps += rng.uniform(0.0, 0.02, maps.shape).astype(np.float32)
    results = VitPoseImageProcessorPil().post_process_pose_estimation(
        VitPoseEstimatorOutput(heatmaps=torch.from_numpy(maps.copy())), boxes=[boxes_xywh.tolist()]
    )[0]
    coords, scores = d.keypoints_from_heatmaps(maps, "dark-udp", blur_sigma=0.8)
    points = image_points_from_heatmap(coords, boxes_xyxy(boxes_xywh, "xywh"), "udp")
    for person, result in enumerate(results):
        np.testing.assert_allclose(points[person], result["keypoints"].numpy(), atol=5e-4)
        np.testing.assert_array_equal(scores[person], result["scores"].numpy())


@pytest.mark.parametrize("kernel", [3, 5, 7, 11, 17, 131])
def test_gaussian_kernel_and_blur_match_opencv(kernel):
    """Also a kernel wider than the maps: OpenCV reflects the border repeatedly."""
    for sigma, cv2_sigma in ((None, 0), (1.3, 1.3)):
        expected = cv2.getGaussianKernel(kernel, cv2_sigma)[:, 0]
        np.testing.assert_allclose(d.gaussian_kernel(kernel, sigma), expected, rtol=1e-6, atol=1e-12)
    maps = noisy_heatmaps(np.random.default_rng(kernel), n=2, k=3)
    expected = np.array([[cv2.GaussianBlur(m, (kernel, kernel), 0) for m in per] for per in maps])
    np.testing.assert_allclose(d.blurred_heatmaps(maps, kernel), expected, atol=1e-6)
    radius = kernel // 2
    zero = np.array(
        [[cv2.GaussianBlur(np.pad(m, radius), (kernel, kernel), 0)[radius:-radius, radius:-radius] for m in per]
         for per in maps]
    )  # fmt: skip
    np.testing.assert_allclose(d.blurred_heatmaps(maps, kernel, border="zero"), zero, atol=1e-6)


def test_flip_back_recovers_the_unflipped_heatmaps():
    kset = KEYPOINT_SETS["wholebody"]
    rng = np.random.default_rng(5)
    centers = random_centers(rng, 2, kset.num_keypoints, margin=0)
    index = np.array(kset.flip_index)
    # In a mirrored crop, keypoint i sits at the mirrored position of the original keypoint index[i].
    mirrored = centers[:, index].copy()
    mirrored[..., 0] = HEATMAP_WIDTH - 1 - mirrored[..., 0]
    back = d.flip_back(gaussian_heatmaps(mirrored), kset.flip_index, shift=False)
    np.testing.assert_allclose(back, gaussian_heatmaps(centers), atol=1e-6)
    shifted = d.flip_back(gaussian_heatmaps(mirrored), kset.flip_index, shift=True)
    np.testing.assert_array_equal(shifted[..., 1:], back[..., :-1])
    np.testing.assert_array_equal(shifted[..., 0], back[..., 0])


@pytest.mark.parametrize("kset", list(KEYPOINT_SETS.values()), ids=list(KEYPOINT_SETS))
def test_flip_back_twice_is_identity(kset):
    maps = np.random.default_rng(6).random((2, kset.num_keypoints, 8, 6), dtype=np.float32)
    once = d.flip_back(maps, kset.flip_index, shift=False)
    assert once.flags.c_contiguous
    np.testing.assert_array_equal(d.flip_back(once, kset.flip_index, shift=False), maps)


def test_invalid_arguments():
    maps = np.zeros((1, 17, 64, 48), dtype=np.float32)
    with pytest.raises(ConfigError, match="decode method"):
        d.keypoints_from_heatmaps(maps, "soft-argmax")
    for kernel in (0, 4, -3):
        with pytest.raises(ConfigError, match="blur_kernel"):
            d.keypoints_from_heatmaps(maps, "dark", blur_kernel=kernel)
    with pytest.raises(ConfigError, match="blur_sigma"):
        d.keypoints_from_heatmaps(maps, "dark-udp", blur_sigma=0.0)
    with pytest.raises(InputError, match="heatmaps"):
        d.keypoints_from_heatmaps(maps[0], "argmax")
    with pytest.raises(ConfigError, match="flip_index"):
        d.flip_back(maps, list(range(16)), shift=False)
    with pytest.raises(ConfigError, match="flip_index"):
        d.flip_back(maps, [0] * 17, shift=False)
    with pytest.raises(InputError, match="heatmaps"):
        d.flip_back(maps[0], list(range(17)), shift=False)
    with pytest.raises(ConfigError, match="border"):
        d.blurred_heatmaps(maps, border="wrap")


def test_empty_batches_decode():
    coords, scores = d.keypoints_from_heatmaps(np.zeros((0, 17, 64, 48), dtype=np.float32), "dark-udp")
    assert coords.shape == (0, 17, 2) and scores.shape == (0, 17)


@pytest.mark.gpu
@pytest.mark.parametrize("method", METHODS)
def test_cupy_decode_matches_numpy(method):
    cp = pytest.importorskip("cupy")
    maps = noisy_heatmaps(np.random.default_rng(9), n=8, k=17)
    expected_coords, expected_scores = d.keypoints_from_heatmaps(maps, method)
    coords, scores = d.keypoints_from_heatmaps(cp.asarray(maps), method, xp=cp)
    assert isinstance(coords, cp.ndarray) and isinstance(scores, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(coords), expected_coords, atol=1e-3)
    np.testing.assert_array_equal(cp.asnumpy(scores), expected_scores)
    back = d.flip_back(cp.asarray(maps), KEYPOINT_SETS["coco"].flip_index, shift=True, xp=cp)
    expected_back = d.flip_back(maps, KEYPOINT_SETS["coco"].flip_index, shift=True)
    np.testing.assert_array_equal(cp.asnumpy(back), expected_back)
