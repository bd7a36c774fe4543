"""DetectionOutput (SSD): (1, 1, 1, 7) at set-up, prior-count checks."""

from __future__ import annotations

import pytest
from layerkit import tops

from caffecx.errors import ShapeError

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
