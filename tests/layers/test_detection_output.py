"""DetectionOutput (SSD): (1, 1, 1, 7) at set-up, prior-count checks."""

from __future__ import annotations

import numpy as np
import pytest
from layerkit import make, tops

from caffecx.errors import ShapeError
from caffecx.layers import Context, RunContext

MOBILENET_SSD = ('name: "detection_out" type: "DetectionOutput" bottom: "mbox_loc" bottom: "mbox_conf_flatten" '
                 'bottom: "mbox_priorbox" top: "detection_out" detection_output_param { num_classes: 21 '
                 "share_location: true background_label_id: 0 nms_param { nms_threshold: 0.45 top_k: 100 } "
                 "code_type: CENTER_SIZE keep_top_k: 100 confidence_threshold: 0.25 }")


def test_mobilenet_ssd_head() -> None:
    # 1917 priors: loc 1917*4 = 7668, conf 1917*21 = 40257, priors (1, 2, 7668)
    assert tops(MOBILENET_SSD, (1, 7668), (1, 40257), (1, 2, 7668)) == [(1, 1, 1, 7)]


def test_prior_count_checks() -> None:
    with pytest.raises(ShapeError, match="Number of priors must match number of location predictions"):
        tops(MOBILENET_SSD, (1, 7664), (1, 40257), (1, 2, 7668))
    with pytest.raises(ShapeError, match="Number of priors must match number of confidence predictions"):
        tops(MOBILENET_SSD.replace("num_classes: 21", "num_classes: 20"), (1, 7668), (1, 40257), (1, 2, 7668))
    unshared = MOBILENET_SSD.replace("share_location: true", "share_location: false")
    assert tops(unshared, (1, 7668 * 21), (1, 40257), (1, 2, 7668)) == [(1, 1, 1, 7)]
    with pytest.raises(ShapeError, match="Must specify num_classes"):
        tops('name: "d" type: "DetectionOutput" bottom: "a" bottom: "b" bottom: "c" top: "d"', (1, 4), (1, 2), (1, 2, 4))


# -- forward -------------------------------------------------------------------------------------------

def detect(params: str, loc: np.ndarray, conf: np.ndarray, prior: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Set up like the plan and run (the top's row count is data dependent, so not layerkit.run)."""
    text = ('name: "d" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "prior" top: "det" '
            f"detection_output_param {{ {params} }}")
    layer = make(text)
    arrays = [np.asarray(a, dtype=dtype) for a in (loc, conf, prior)]
    layer.top_shapes = layer.setup([a.shape for a in arrays], Context())
    layer.bottom_shapes = [a.shape for a in arrays]
    assert layer.data_dependent_top and layer.forward_refusal() is None
    (out,) = layer.forward(arrays, [], RunContext(dtype=dtype))
    assert out.dtype == dtype and out.shape[:2] == (1, 1) and out.shape[3] == 7
    return out[0, 0]


A, B, C = [0.1, 0.1, 0.5, 0.5], [0.12, 0.12, 0.52, 0.52], [0.6, 0.6, 0.9, 0.9]  # IoU(A, B) ~ 0.82, C apart
# CORNER with zero priors and the variance in the target: the decoded boxes are the loc values themselves
IDENTITY = "code_type: CORNER variance_encoded_in_target: true"


def three_boxes(scores: list[list[float]], num_classes: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    loc = np.array([A + B + C])
    conf = np.array([sum(scores, [])])
    prior = np.zeros((1, 2, 12))
    assert conf.shape[1] == 3 * num_classes
    return loc, conf, prior


def test_nms_on_three_boxes() -> None:
    loc, conf, prior = three_boxes([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7]])
    rows = detect(f"num_classes: 2 nms_param {{ nms_threshold: 0.45 }} {IDENTITY}", loc, conf, prior)
    # B overlaps the better A by IoU 0.82 > 0.45: suppressed; C is kept
    np.testing.assert_allclose(rows, np.float32([[0, 1, 0.9, *A], [0, 1, 0.7, *C]]))
    rows = detect(f"num_classes: 2 nms_param {{ nms_threshold: 0.9 }} {IDENTITY}", loc, conf, prior)
    assert rows[:, 2].tolist() == np.float32([0.9, 0.8, 0.7]).tolist()  # IoU 0.82 <= 0.9: all kept
    rows = detect(f"num_classes: 2 confidence_threshold: 0.75 nms_param {{ nms_threshold: 0.45 }} {IDENTITY}",
                  loc, conf, prior)
    np.testing.assert_allclose(rows, np.float32([[0, 1, 0.9, *A]]))
    # top_k cuts the candidates before NMS: only A and B compete, so C never appears
    rows = detect(f"num_classes: 2 nms_param {{ nms_threshold: 0.45 top_k: 2 }} {IDENTITY}", loc, conf, prior)
    np.testing.assert_allclose(rows, np.float32([[0, 1, 0.9, *A]]))


def test_labels_ascending_and_keep_top_k() -> None:
    # 3 classes (0 background): class 1 scores A .9 B .3 C .2, class 2 scores A .1 B .85 C .95
    loc, conf, prior = three_boxes([[0, 0.9, 0.1], [0, 0.3, 0.85], [0, 0.2, 0.95]], num_classes=3)
    rows = detect(f"num_classes: 3 nms_param {{ nms_threshold: 0.45 }} {IDENTITY}", loc, conf, prior)
    assert rows[:, 1].tolist() == [1, 1, 2, 2]
    np.testing.assert_allclose(rows[:, 2], np.float32([0.9, 0.2, 0.95, 0.85]))
    rows = detect(f"num_classes: 3 keep_top_k: 3 nms_param {{ nms_threshold: 0.45 }} {IDENTITY}", loc, conf, prior)
    # the best 3 over all classes are .95, .9, .85; rows still go by label, then score
    np.testing.assert_allclose(rows[:, 1:3], np.float32([[1, 0.9], [2, 0.95], [2, 0.85]]))
    np.testing.assert_allclose(rows[:, 3:], np.float32([A, C, B]))


def test_no_detection_gives_one_row_of_minus_ones_per_image() -> None:
    loc, conf, prior = three_boxes([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1]])
    params = f"num_classes: 2 confidence_threshold: 0.5 {IDENTITY}"
    np.testing.assert_array_equal(detect(params, loc, conf, prior), [[0, -1, -1, -1, -1, -1, -1]])
    rows = detect(params, np.repeat(loc, 2, 0), np.repeat(conf, 2, 0), prior)
    np.testing.assert_array_equal(rows, [[0, -1, -1, -1, -1, -1, -1], [1, -1, -1, -1, -1, -1, -1]])


def test_decoding_code_types() -> None:
    prior_box, var = [0.2, 0.2, 0.6, 0.6], [0.1, 0.1, 0.2, 0.2]
    prior = np.array([prior_box + var]).reshape(1, 2, 4)
    loc = np.array([[1.0, -1.0, 0.5, 0.0]])
    conf = np.array([[0.0, 1.0]])
    size = 0.4
    cx, cy = 0.4 + 0.1 * 1 * size, 0.4 - 0.1 * 1 * size
    w, h = np.exp(0.2 * 0.5) * size, size
    for code, want in [
        ("CENTER_SIZE", [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]),
        ("CORNER", [0.2 + 0.1, 0.2 - 0.1, 0.6 + 0.2 * 0.5, 0.6]),
        ("CORNER_SIZE", [0.2 + 0.1 * size, 0.2 - 0.1 * size, 0.6 + 0.2 * 0.5 * size, 0.6]),
    ]:
        rows = detect(f"num_classes: 2 code_type: {code}", loc, conf, prior, dtype=np.float64)
        np.testing.assert_allclose(rows[0, 3:], want, rtol=1e-6, err_msg=code)
    rows = detect("num_classes: 2 code_type: CENTER_SIZE variance_encoded_in_target: true", loc, conf, prior)
    cx, cy, w = 0.4 + size, 0.4 - size, np.exp(0.5) * size
    np.testing.assert_allclose(rows[0, 3:], [cx - w / 2, cy - size / 2, cx + w / 2, cy + size / 2], rtol=1e-6)


def test_unshared_locations_and_adaptive_nms() -> None:
    # share_location false: class 1 reads the second box of each prior's pair
    loc = np.array([[9, 9, 9, 9] + A, [9, 9, 9, 9] + C]).reshape(1, 16)
    conf = np.array([[0, 0.6, 0, 0.7]])
    rows = detect(f"num_classes: 2 share_location: false {IDENTITY}", loc, conf, np.zeros((1, 2, 8)))
    np.testing.assert_allclose(rows[:, 3:], np.float32([C, A]))
    # eta: after keeping A the threshold 0.9 drops to 0.45, so B (IoU 0.82 with A) is then suppressed
    loc, conf, prior = three_boxes([[0, 0.9], [0, 0.8], [0, 0.7]])
    rows = detect(f"num_classes: 2 nms_param {{ nms_threshold: 0.9 eta: 0.5 }} {IDENTITY}", loc, conf, prior)
    np.testing.assert_allclose(rows[:, 2], np.float32([0.9, 0.7]))


def caffe_nms_reference(boxes: list[list[float]], scores: list[float], score_thr: float, nms_thr: float,
                        eta: float, top_k: int) -> list[int]:
    """ApplyNMSFast written out as the fork's loops (float32 via numpy scalars)."""
    f = np.float32

    def size(b: list[float]) -> np.float32:
        return f(0) if b[2] < b[0] or b[3] < b[1] else f(b[2] - b[0]) * f(b[3] - b[1])

    def jaccard(p: list[float], q: list[float]) -> np.float32:
        if q[0] > p[2] or q[2] < p[0] or q[1] > p[3] or q[3] < p[1]:
            return f(0)
        w, h = f(min(p[2], q[2]) - max(p[0], q[0])), f(min(p[3], q[3]) - max(p[1], q[1]))
        if not (w > 0 and h > 0):
            return f(0)
        inter = w * h
        return inter / (size(p) + size(q) - inter)

    order = sorted((i for i, s in enumerate(scores) if s > f(score_thr)), key=lambda i: -scores[i])
    order = order[:top_k] if top_k > -1 else order
    kept: list[int] = []
    thr = f(nms_thr)
    for i in order:
        if all(jaccard(boxes[i], boxes[k]) <= thr for k in kept):
            kept.append(i)
            if eta < 1 and thr > 0.5:
                thr = f(thr * f(eta))
    return kept


@pytest.mark.parametrize("matrix_max", [0, 1024])
@pytest.mark.parametrize(("nms_threshold", "eta", "top_k"), [(0.45, 1.0, -1), (0.3, 1.0, 20), (0.8, 0.9, 50)])
def test_nms_against_the_loops(monkeypatch: pytest.MonkeyPatch, matrix_max: int, nms_threshold: float,
                               eta: float, top_k: int) -> None:
    from caffecx.layers import detection_output

    monkeypatch.setattr(detection_output, "_MATRIX_MAX", matrix_max)
    rng = np.random.default_rng(7)
    centre, half = rng.uniform(0, 1, (300, 2)), rng.uniform(0.02, 0.2, (300, 2))
    boxes = np.concatenate([centre - half, centre + half], 1).astype(np.float32)
    boxes[:10] = boxes[:10, [2, 3, 0, 1]]  # a few inverted boxes: area 0
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    scores[50:60] = scores[40:50]  # ties keep index order (stable sort)
    areas = detection_output.box_areas(boxes)
    got = detection_output.nms(boxes, areas, scores, 0.1, nms_threshold, eta, top_k)
    want = caffe_nms_reference(boxes.tolist(), scores.tolist(), 0.1, nms_threshold, eta, top_k)
    assert got.tolist() == want
