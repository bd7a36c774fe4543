"""MVN: shape passthrough; FLOPs depend on normalize_variance."""

from __future__ import annotations

from layerkit import make, tops

from caffecx.layers import Counts


def test_mvn_like_layers_2() -> None:
    text = 'name: "mvn" type: "MVN" bottom: "g" top: "mvn" mvn_param { across_channels: true }'
    assert tops(text, (2, 6, 12, 12)) == [(2, 6, 12, 12)]
    assert make(text).param_shapes([(2, 6, 12, 12)]) == []
    assert make(text).counts([(2, 6, 12, 12)], [(2, 6, 12, 12)]) == Counts(0, 5 * 1728)
    mean_only = make('name: "m" type: "MVN" bottom: "g" top: "m" mvn_param { normalize_variance: false }')
    assert mean_only.counts([(2, 6, 12, 12)], [(2, 6, 12, 12)]) == Counts(0, 2 * 1728)
