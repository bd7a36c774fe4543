"""The complexity claims of seed 000 (Inception / Xception) and seed 004 (He & Sun 2014), reproduced on
the small nets of ``prototxt/seeds/`` (one file per variant, batch 1).

Every expected number is computed here from the seed's own formulas — a conv layer costs
``H_out·W_out·K²·C_in·C_out`` MACs and has ``K²·C_in·C_out`` weights (seed 000, biases left out);
seed 004's time complexity is ``Σ_l n_{l-1}·s_l²·n_l·m_l²`` over the conv layers — with output sizes
from Caffe's rules (conv: floor, pooling: ceil + clip), and compared with what the analyzer measures.
"""

from __future__ import annotations

import csv
import math
from fractions import Fraction

import pytest
from paths import CORPUS, REPO

from caffecx.analysis import Analysis, analyze
from caffecx.cli import main
from caffecx.graph import load_net

SEEDS = REPO / "prototxt" / "seeds"
GOOGLENET = CORPUS / "prototxt" / "bvlc_googlenet__deploy.prototxt"
NETS = sorted(SEEDS.glob("*.prototxt"))


def run(name: str, **kwargs) -> Analysis:
    return analyze(load_net(SEEDS / f"{name}.prototxt"), **kwargs)


def rows(result: Analysis, layer_type: str) -> list:
    return [r for r in result.layers if r.type == layer_type]


def conv_macs(result: Analysis) -> int:
    return sum(r.macs for r in rows(result, "Convolution"))


def conv_weights(result: Analysis) -> int:
    return sum(r.weights for r in rows(result, "Convolution"))


def conv_out(size: int, kernel: int, stride: int = 1, pad: int = 0) -> int:
    """Caffe's convolution output size (floor)."""
    return (size + 2 * pad - kernel) // stride + 1


def pool_out(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    """Caffe's pooling output size: ceil, then the window starting in the padding is dropped."""
    out = math.ceil((size + 2 * pad - kernel) / stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def rf_size(layers: list[tuple[int, int]]) -> int:
    """Seed 003's receptive field of a chain of (kernel, stride) layers: r' = r + (k - 1)·j, j' = j·s."""
    r, j = 1, 1
    for k, s in layers:
        r, j = r + (k - 1) * j, j * s
    return r


# -- seed 000 §4.1: 1x1 reductions in InceptionV1's (3b) module ------------------------------------------

HW, C_IN = 28 * 28, 256  # the (3b) module's input, 28x28x256


def test_inception_3b_naive_cost() -> None:
    r = run("inception_3b_naive")
    expected_macs = HW * C_IN * (1 * 1 * 128 + 3 * 3 * 192 + 5 * 5 * 96)
    assert expected_macs == 854_196_224
    assert r.totals()["macs"] == conv_macs(r) == expected_macs  # pooling and ReLU add no MACs
    assert conv_weights(r) == C_IN * (128 + 9 * 192 + 25 * 96) == 1_089_536
    assert r.layer("inception_3b/5x5").macs == HW * 25 * C_IN * 96 == 481_689_600
    # "same" padding: every branch keeps 28x28; the pool branch passes all 256 channels on
    for name, c in [("inception_3b/1x1", 128), ("inception_3b/3x3", 192), ("inception_3b/5x5", 96),
                    ("inception_3b/pool", 256)]:
        assert r.layer(name).top_shapes == [[1, c, 28, 28]]
    assert r.layer("inception_3b/output").top_shapes == [[1, 128 + 192 + 96 + 256, 28, 28]]


def test_inception_3b_reduced_cost_and_ratio() -> None:
    naive, reduced = run("inception_3b_naive"), run("inception_3b_reduced")
    expected_macs = HW * (C_IN * 128 + C_IN * 128 + 9 * 128 * 192 + C_IN * 32 + 25 * 32 * 96 + C_IN * 64)
    assert expected_macs == 304_267_264
    assert reduced.totals()["macs"] == conv_macs(reduced) == expected_macs
    assert conv_weights(reduced) == 388_096
    assert reduced.layer("inception_3b/output").top_shapes == [[1, 480, 28, 28]]
    # the three conv branches keep their widths and sizes
    for name in ("inception_3b/1x1", "inception_3b/3x3", "inception_3b/5x5"):
        assert reduced.layer(name).top_shapes == naive.layer(name).top_shapes
    # all convs run at 28x28, so MACs and weights shrink by the same factor: 388096 / 1089536 ≈ 0.356
    ratio = Fraction(reduced.totals()["macs"], naive.totals()["macs"])
    assert ratio == Fraction(conv_weights(reduced), conv_weights(naive)) == Fraction(388_096, 1_089_536)
    assert 0.35 < float(ratio) < 0.36
    # the 5x5 branch alone: 32 instead of 256 input channels, plus the 1x1 reduce
    assert Fraction(reduced.layer("inception_3b/5x5").macs, naive.layer("inception_3b/5x5").macs) == Fraction(32, 256)


def test_inception_3b_reduced_is_googlenets_module() -> None:
    mine = run("inception_3b_reduced")
    google = analyze(load_net(GOOGLENET), batch=1)
    assert google.layer("inception_3a/output").top_shapes == mine.layer("inception_3a/output").top_shapes
    google_convs = {r.name for r in rows(google, "Convolution") if r.name.startswith("inception_3b/")}
    assert {r.name for r in rows(mine, "Convolution")} == google_convs and len(google_convs) == 6
    for row in rows(mine, "Convolution"):
        ref = google.layer(row.name)
        assert (row.weights, row.params, row.macs, row.top_shapes, row.param_shapes) == (
            ref.weights, ref.params, ref.macs, ref.top_shapes, ref.param_shapes), row.name
    assert google.layer("inception_3b/output").top_shapes == mine.layer("inception_3b/output").top_shapes
    module = [r for r in google.layers if r.name.startswith("inception_3b/")]
    assert sum(r.macs for r in module) == 304_267_264


# -- seed 000 §4.2: global average pooling instead of a big FC layer --------------------------------------


def test_gap_instead_of_fc() -> None:
    fc, gap = run("head_fc"), run("head_gap")
    assert fc.layer("loss3/classifier").weights == 7 * 7 * 1024 * 1000 == 50_176_000
    assert gap.layer("loss3/classifier").weights == 1024 * 1000
    assert gap.layer("pool5/gap").top_shapes == [[1, 1024, 1, 1]]
    assert Fraction(fc.totals()["macs"], gap.totals()["macs"]) == 49  # the map area
    assert fc.totals()["params"] - gap.totals()["params"] == (49 - 1) * 1024 * 1000
    # the FC layer's space complexity follows the input size; after GAP it does not
    big = {"inception_5b/output": (1, 1024, 14, 14)}
    assert run("head_fc", input_shapes=big).layer("loss3/classifier").weights == 4 * 50_176_000
    assert run("head_gap", input_shapes=big).layer("loss3/classifier").weights == 1024 * 1000


# -- seed 000 §4.3: two 3x3 convolutions instead of the (3b) 5x5 ------------------------------------------


def test_two_3x3_replace_the_5x5_branch() -> None:
    five, two = run("inception_3b_5x5_branch"), run("inception_3b_two_3x3_branch")
    reduce_macs = HW * C_IN * 32
    assert five.totals()["macs"] == reduce_macs + HW * 25 * 32 * 96 == 66_633_728
    assert two.totals()["macs"] == reduce_macs + HW * 9 * 32 * 32 + HW * 9 * 32 * 96 == 35_323_904
    assert conv_weights(five) == 256 * 32 + 25 * 32 * 96 == 84_992
    assert conv_weights(two) == 256 * 32 + 9 * 32 * 32 + 9 * 32 * 96 == 45_056
    # the replaced convolutions alone: 9·(32·32 + 32·96) / (25·32·96) = 0.48
    pair = two.layer("inception_3b/3x3a").macs + two.layer("inception_3b/3x3b").macs
    assert Fraction(pair, five.layer("inception_3b/5x5").macs) == Fraction(12, 25)
    # same output size, hence the same receptive field (seed 003: 1 + 2 + 2 = 5)
    assert two.layer("inception_3b/3x3b").top_shapes == five.layer("inception_3b/5x5").top_shapes == [[1, 96, 28, 28]]
    assert two.layer("inception_3b/3x3b").receptive_field.size == (5, 5) == (rf_size([(3, 1), (3, 1)]),) * 2
    assert five.layer("inception_3b/5x5").receptive_field.size == (5, 5)
    assert two.layer("inception_3b/3x3a").receptive_field.size == (3, 3)


@pytest.mark.parametrize("width", [32, 64, 96])
def test_two_3x3_at_equal_widths_cost_18_of_25(width: int) -> None:
    """With C_in = C_mid = C_out the pair has 2·3² = 18 weights per channel pair against the 5x5's 25."""
    text = (SEEDS / "inception_3b_two_3x3_branch.prototxt").read_text()
    text = text.replace("num_output: 32 kernel_size: 1", f"num_output: {width} kernel_size: 1")
    text = text.replace("num_output: 32 pad: 1", f"num_output: {width} pad: 1")
    text = text.replace("num_output: 96 pad: 1", f"num_output: {width} pad: 1")
    five_text = (SEEDS / "inception_3b_5x5_branch.prototxt").read_text()
    five_text = five_text.replace("num_output: 32 kernel_size: 1", f"num_output: {width} kernel_size: 1")
    five_text = five_text.replace("num_output: 96 pad: 2", f"num_output: {width} pad: 2")
    two, five = analyze(load_net(text)), analyze(load_net(five_text))
    pair = two.layer("inception_3b/3x3a").weights + two.layer("inception_3b/3x3b").weights
    assert pair == 18 * width * width and five.layer("inception_3b/5x5").weights == 25 * width * width
    macs = two.layer("inception_3b/3x3a").macs + two.layer("inception_3b/3x3b").macs
    assert Fraction(macs, five.layer("inception_3b/5x5").macs) == Fraction(18, 25)


# -- seed 000 §4.4: N x 1 + 1 x N instead of N x N (InceptionV3's 17x17 grid) ------------------------------


def test_nx1_1xn_factorisation() -> None:
    n, c, grid = 7, 192, 17 * 17
    full, fact = run("conv_7x7_17x17"), run("conv_1x7_7x1_17x17")
    assert full.totals()["macs"] == grid * n * n * c * c == 522_031_104
    assert fact.totals()["macs"] == 2 * grid * n * c * c == 149_151_744
    assert Fraction(fact.totals()["macs"], full.totals()["macs"]) == Fraction(2 * n, n * n) == Fraction(2, 7)
    assert Fraction(fact.totals()["weights"], full.totals()["weights"]) == Fraction(2, 7)
    assert fact.layer("conv_1x7").param_shapes[0] == [192, 192, 1, 7]
    assert fact.layer("conv_7x1").param_shapes[0] == [192, 192, 7, 1]
    # the receptive field grows one axis at a time and ends at 7x7, the same as the 7x7 conv
    assert fact.layer("conv_1x7").receptive_field.size == (1, 7)
    assert fact.layer("conv_7x1").receptive_field.size == full.layer("conv_7x7").receptive_field.size == (7, 7)
    assert fact.layer("conv_7x1").top_shapes == full.layer("conv_7x7").top_shapes == [[1, 192, 17, 17]]


# -- seed 000 §4.5: depthwise-separable convolution (Xception) -------------------------------------------


def test_depthwise_separable_turns_products_into_sums() -> None:
    h = w = 19
    k, c_in, c_out = 3, 728, 728
    std, sep = run("xception_standard_conv"), run("xception_separable_conv")
    assert std.totals()["macs"] == h * w * k * k * c_in * c_out == 1_721_918_016
    assert sep.totals()["macs"] == h * w * k * k * c_in + h * w * c_in * c_out == 193_689_496
    assert sep.layer("conv_dw").macs == h * w * k * k * c_in
    assert sep.layer("conv_dw").param_shapes == [[728, 1, 3, 3]]  # group = channels: one kernel per channel
    ratio = Fraction(1, c_out) + Fraction(1, k * k)
    assert Fraction(sep.totals()["macs"], std.totals()["macs"]) == ratio
    assert Fraction(sep.totals()["weights"], std.totals()["weights"]) == ratio
    assert (std.totals()["weights"], sep.totals()["weights"]) == (4_769_856, 536_536)
    assert sep.layer("conv_pw").top_shapes == std.layer("conv").top_shapes == [[1, 728, 19, 19]]
    assert sep.layer("conv_pw").receptive_field.size == std.layer("conv").receptive_field.size == (3, 3)


# -- seed 004: model A's time complexity, its stages, model C ---------------------------------------------


def model_a_convs() -> dict[str, tuple[int, int, int, int]]:
    """(n_{l-1}, s_l, n_l, m_l) of model A's conv layers, sizes by Caffe's rules (no padding before stage 3)."""
    m1 = conv_out(224, 7, 2)
    m2 = conv_out(pool_out(m1, 3, 3), 5)
    m3 = conv_out(pool_out(m2, 2, 2), 3, pad=1)
    return {"conv1": (3, 7, 64, m1), "conv2": (64, 5, 128, m2), "conv3": (128, 3, 256, m3),
            "conv4": (256, 3, 256, m3), "conv5": (256, 3, 256, m3)}


def seed_004_complexity(layers) -> int:
    return sum(n_prev * s * s * n * m * m for n_prev, s, n, m in layers)


def test_model_a_sizes() -> None:
    a = run("he_sun_model_a")
    assert a.layer("conv1").top_shapes == [[1, 64, 109, 109]]
    assert a.layer("pool1").top_shapes == [[1, 64, 37, 37]]  # Caffe's ceil: floor-mode tools say 36
    assert a.layer("pool2").top_shapes == [[1, 128, 17, 17]]  # the seed's stage-3 input, 17x17
    for name in ("conv3", "conv4", "conv5"):
        assert a.layer(name).top_shapes == [[1, 256, 17, 17]]
    # spp(6x6, 3x3, 2x2, 1x1) with Caffe's SPPLayer geometry on 17x17
    net = load_net(SEEDS / "he_sun_model_a.prototxt")
    for bins in (6, 3, 2, 1):
        kernel = -(-17 // bins)
        pp = net.layer(f"spp_{bins}x{bins}").param.pooling_param
        assert (pp.kernel_size, pp.stride, pp.pad) == (kernel, kernel, (kernel * bins - 17 + 1) // 2)
        assert a.layer(f"spp_{bins}x{bins}").top_shapes == [[1, 256, bins, bins]]
    assert a.layer("spp").top_shapes == [[1, 256 * (36 + 9 + 4 + 1)]]
    assert a.layer("fc6").weights == 12_800 * 4096


def test_model_a_conv2_pad_gives_the_seeds_other_size() -> None:
    """The seed's "17x17 or 18x18": padding conv2 by 1 gives 18x18 at stage 3."""
    text = (SEEDS / "he_sun_model_a.prototxt").read_text()
    text = text.replace("num_output: 128 kernel_size: 5", "num_output: 128 pad: 1 kernel_size: 5")
    padded = analyze(load_net(text))
    assert padded.layer("pool2").top_shapes == [[1, 128, 18, 18]]
    assert pool_out(conv_out(37, 5, pad=1), 2, 2) == 18


def test_seed_004_formula_on_model_a() -> None:
    a = run("he_sun_model_a")
    table = model_a_convs()
    expected = seed_004_complexity(table.values())
    assert expected == 760_951_488
    assert conv_macs(a) == expected
    for name, layer in table.items():
        assert a.layer(name).macs == seed_004_complexity([layer]), name
        assert a.layer(name).weights == layer[0] * layer[1] ** 2 * layer[2], name
    # the formula leaves out fc and pooling: the analyzer's only other MACs are the three fc layers
    fc = sum(r.macs for r in rows(a, "InnerProduct"))
    assert fc == 12_800 * 4096 + 4096 * 4096 + 4096 * 1000 == 73_302_016
    assert a.totals()["macs"] == expected + fc
    # ... which the seed puts at 5-10% of the total time; as a share of MACs: 8.8%
    assert 0.05 < fc / a.totals()["macs"] < 0.10


MODEL_A_STAGES = {
    1: ["data", "conv1", "relu1", "pool1"],
    2: ["conv2", "relu2", "pool2"],
    3: ["conv3", "relu3", "conv4", "relu4", "conv5", "relu5", "conv5_relu5_0_split",
        "spp_6x6", "spp_3x3", "spp_2x2", "spp_1x1"],
    4: ["spp_6x6_flat", "spp_3x3_flat", "spp_2x2_flat", "spp_1x1_flat", "spp", "fc6", "relu6", "fc7",
        "relu7", "fc8", "prob"],
}


def test_model_a_stages() -> None:
    a = run("he_sun_model_a")
    assert {r.name: r.stage for r in a.layers} == {n: s for s, names in MODEL_A_STAGES.items() for n in names}
    table = model_a_convs()
    stages = a.by_stage()
    assert list(stages.index) == [1, 2, 3, 4]
    assert stages["layers"].tolist() == [4, 3, 11, 11]
    assert stages["macs"].tolist() == [
        seed_004_complexity([table["conv1"]]),
        seed_004_complexity([table["conv2"]]),
        seed_004_complexity([table["conv3"], table["conv4"], table["conv5"]]),
        73_302_016,
    ] == [111_776_448, 223_027_200, 426_147_840, 73_302_016]
    assert stages["weights"].tolist() == [3 * 49 * 64, 64 * 25 * 128, 128 * 9 * 256 + 2 * 256 * 9 * 256,
                                         12_800 * 4096 + 4096 * 4096 + 4096 * 1000]


def test_stride_1_and_global_pooling_stages() -> None:
    """A same-size pooling (inception's pool branch) does not close a stage; a global pooling does."""
    naive = run("inception_3b_naive")
    assert {r.stage for r in naive.layers} == {1}
    gap = run("head_gap")
    assert [(r.name, r.stage) for r in gap.layers] == [
        ("inception_5b/output", 1), ("pool5/gap", 1), ("loss3/classifier", 2), ("prob", 2)]


def test_model_c_against_model_a() -> None:
    a, c = run("he_sun_model_a"), run("he_sun_model_c")
    # "64*5*5*128 ~ 64*3*3*128 + 128*3*3*128": per output position 221184 against 204800 (+8%)
    assert c.layer("conv2a").weights + c.layer("conv2b").weights == 64 * 9 * 128 + 128 * 9 * 128 == 221_184
    assert a.layer("conv2").weights == 64 * 25 * 128 == 204_800
    # with unpadded 3x3s, conv2a works on a 35x35 map: stage 2 costs 12.5% more than A's
    m_in = pool_out(conv_out(224, 7, 2), 3, 3)
    m2a = conv_out(m_in, 3)
    m2b = conv_out(m2a, 3)
    stage2_c = seed_004_complexity([(64, 3, 128, m2a), (128, 3, 128, m2b)])
    assert (m2a, m2b, stage2_c) == (35, 33, 250_896_384)
    sa, sc = a.by_stage(), c.by_stage()
    assert sc.loc[2, "macs"] == stage2_c and sa.loc[2, "macs"] == 223_027_200
    ratio = Fraction(int(sc.loc[2, "macs"]), int(sa.loc[2, "macs"]))
    assert ratio == Fraction(9 * 35**2 + 18 * 33**2, 25 * 33**2) == Fraction(3403, 3025)  # 1.1250
    assert sc.loc[2, "weights"] == 221_184 and sa.loc[2, "weights"] == 204_800
    # the replacement stays inside stage 2: its output, receptive field and the other stages are A's
    assert c.layer("pool2").top_shapes == a.layer("pool2").top_shapes
    assert c.layer("conv2b").receptive_field.size == a.layer("conv2").receptive_field.size == (35, 35)
    assert c.layer("pool2").receptive_field.size == a.layer("pool2").receptive_field.size == (41, 41)
    for stage in (1, 3, 4):
        assert sc.loc[stage, ["macs", "weights"]].tolist() == sa.loc[stage, ["macs", "weights"]].tolist()
    # C has 6 conv layers, 9 weight layers in all (A: 5 and 8)
    assert (len(rows(c, "Convolution")), len(rows(c, "InnerProduct"))) == (6, 3)
    assert (len(rows(a, "Convolution")), len(rows(a, "InnerProduct"))) == (5, 3)
    assert c.totals()["macs"] - a.totals()["macs"] == stage2_c - 223_027_200


# -- the files themselves and the CLI -----------------------------------------------------------------------


def test_every_seed_net_is_documented() -> None:
    with open(SEEDS / "PROVENANCE.tsv", encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f, delimiter="\t"))
    assert list(table[0]) == ["file", "source", "commit", "license", "description"]
    assert sorted(row["file"] for row in table) == [p.name for p in NETS]
    for path in NETS:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(("# Seed 000 ", "# Seed 004 ")), path.name


@pytest.mark.parametrize("path", NETS, ids=lambda p: p.stem)
def test_cli_analyze_by_stage(path, capsys) -> None:
    result = analyze(load_net(path))
    assert result.unknown == [] and result.batch == 1
    assert main(["analyze", str(path), "--by", "stage", "--format", "csv"]) == 0
    out = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    by_stage = result.by_stage()
    assert [int(r["stage"]) for r in out] == list(by_stage.index)
    assert [int(r["macs"]) for r in out] == by_stage["macs"].tolist()
    assert sum(int(r["macs"]) for r in out) == result.totals()["macs"]
    assert main(["analyze", str(path), "--by", "stage"]) == 0
    assert f"MACs {result.totals()['macs']:,}" in capsys.readouterr().out
