"""The shared window primitives, and every window-layer forward against real Caffe's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from paths import NETS

from caffecx.graph import load_net
from caffecx.layers import RunContext
from caffecx.layers._windows import border_divisor, col2im, pad_for_windows, taps, window_view
from caffecx.plan import plan_net

WINDOW_TYPES = {"Convolution", "DepthwiseConvolution", "Deconvolution", "Im2col", "Pooling", "SPP", "LRN",
                "Crop"}
NET_FILES = [p for p in sorted(NETS.glob("*.prototxt"))
             if p.with_suffix(".npz").exists() and p.with_suffix(".caffemodel").exists()]


def test_pad_for_windows_pads_the_overrun_of_ceil_mode() -> None:
    x = np.arange(5, dtype=np.float32).reshape(1, 5)
    # 3 windows of 2 with stride 2 over 5 cells: the last one needs one cell past the end
    xp = pad_for_windows(x, (3,), (2,), (2,), (0,), value=-1.0)
    assert xp.tolist() == [[0, 1, 2, 3, 4, -1]]
    assert pad_for_windows(x, (2,), (2,), (2,), (0,)) is x


def test_window_view_is_im2col_layout() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    v = window_view(x, (2, 2), (3, 3), (1, 1))  # (C, kh, kw, oh, ow)
    assert v.shape == (1, 3, 3, 2, 2)
    assert v[0, 1, 2].tolist() == [[6, 7], [10, 11]]  # tap (1, 2) at every output position
    dil = window_view(x, (2, 2), (2, 2), (1, 1), (2, 2))
    assert dil[0, 1, 1].tolist() == [[10, 11], [14, 15]]


def test_taps_come_in_scan_order() -> None:
    x = np.arange(9).reshape(3, 3)
    seen = [(i, v.tolist()) for i, v in taps(x, (1, 1), (2, 2), (1, 1))]
    assert seen == [(0, [[0]]), (1, [[1]]), (2, [[3]]), (3, [[4]])]


def test_col2im_sums_overlaps_and_drops_padding() -> None:
    cols = np.ones((1, 3, 3), dtype=np.float32)  # (C, k, out): kernel 3 over 3 positions, pad 1
    assert col2im(cols, (3,), (3,), (1,), (1,)).tolist() == [[2, 3, 2]]


def test_border_divisor_clips_to_the_padded_extent() -> None:
    # in 5, k 3, s 2, p 1: windows start -1, 1, 3 -> ends 2, 4, min(6, 6) -> sizes 3, 3, 3
    assert border_divisor(5, 3, 3, 2, 1).tolist() == [3, 3, 3]
    # in 4, k 3, s 2, p 1 (ceil: 3 outputs): last window starts 3, ends min(6, 5) = 5 -> 2
    assert border_divisor(4, 3, 3, 2, 1).tolist() == [3, 3, 2]


# -- golden: every window layer of the fixture nets against real Caffe ------------------------------


def _written_after(plan, index: int) -> set[str]:  # noqa: ANN001
    return {t for pl in plan.layers[index + 1 :] for t in pl.node.tops}


def golden_cases() -> list[tuple[Path, str]]:
    cases = []
    for proto in NET_FILES:
        plan = plan_net(load_net(proto))
        for i, pl in enumerate(plan.layers):
            if pl.type not in WINDOW_TYPES or any(pl.node.in_place):
                continue
            later = _written_after(plan, i)
            if later & (set(pl.node.bottoms) | set(pl.node.tops)):
                continue  # an in-place layer after it overwrote a bottom or the top: no clean golden
            cases.append((proto, pl.name))
    return cases


@pytest.mark.parametrize(("proto", "name"), golden_cases(), ids=lambda v: getattr(v, "name", v))
def test_forward_matches_caffe(proto: Path, name: str) -> None:
    ref = np.load(proto.with_suffix(".npz"))
    plan = plan_net(load_net(proto, weights=proto.with_suffix(".caffemodel")))
    pl = plan.layer(name)
    assert pl.impl.forward_refusal() is None
    bottoms = [ref[f"blob/{b}"] for b in pl.node.bottoms]
    blobs = [ref[f"param/{name}/{i}"] for i in range(len(pl.param_blobs))]
    blobs = [b.reshape(p.shape) for b, p in zip(blobs, pl.param_blobs, strict=True)]
    tops = pl.impl.forward(bottoms, blobs, RunContext())
    for t, ours in zip(pl.node.tops, tops, strict=True):
        want = ref[f"blob/{t}"]
        assert ours.dtype == np.float32 and ours.shape == want.shape
        np.testing.assert_allclose(ours, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))


def test_golden_covers_the_window_types() -> None:
    types = set()
    for proto, name in golden_cases():
        types.add(plan_net(load_net(proto)).layer(name).type)
    assert types >= {"Pooling", "LRN", "Deconvolution", "Crop", "SPP"}


def test_convolution_matches_caffe_under_its_in_place_relu() -> None:
    """conv1 of the fixture nets is overwritten by an in-place ReLU: compare ReLU(ours) with Caffe."""
    for proto in NET_FILES:
        ref = np.load(proto.with_suffix(".npz"))
        plan = plan_net(load_net(proto, weights=proto.with_suffix(".caffemodel")))
        for i, pl in enumerate(plan.layers):
            nxt = plan.layers[i + 1] if i + 1 < len(plan.layers) else None
            if pl.type != "Convolution" or nxt is None or nxt.type != "ReLU" or not nxt.node.in_place[0]:
                continue
            blobs = [ref[f"param/{pl.name}/{j}"].reshape(p.shape) for j, p in enumerate(pl.param_blobs)]
            (ours,) = pl.impl.forward([ref[f"blob/{pl.node.bottoms[0]}"]], blobs, RunContext())
            want = ref[f"blob/{pl.node.tops[0]}"]
            np.testing.assert_allclose(np.maximum(ours, 0), want, atol=1e-4 * float(np.abs(want).max()))
