"""Python layers: shapes only from --input-shape hints, else a ShapeError telling how to give them."""

from __future__ import annotations

import pytest
from layerkit import tops

from caffecx.errors import ShapeError
from caffecx.layers import Context

PROPOSAL = ("name: 'proposal' type: 'Python' bottom: 'rpn_cls_prob_reshape' bottom: 'rpn_bbox_pred' "
            "bottom: 'im_info' top: 'rois' python_param { module: 'rpn.proposal_layer' layer: 'ProposalLayer' }")


def test_hint_gives_the_shape() -> None:
    ctx = Context(input_shapes={"rois": (300, 5)})
    assert tops(PROPOSAL, (1, 18, 38, 50), (1, 36, 38, 50), (1, 3), ctx=ctx) == [(300, 5)]


def test_missing_hint_names_the_top_and_the_option() -> None:
    with pytest.raises(ShapeError) as info:
        tops(PROPOSAL, (1, 18, 38, 50), (1, 36, 38, 50), (1, 3))
    msg = str(info.value)
    assert "--input-shape rois=" in msg and "rpn.proposal_layer.ProposalLayer" in msg
    assert info.value.location.layer == "proposal"
