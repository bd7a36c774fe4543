"""Nets built inside a layer's set-up (issue 9): a recurrent layer's unrolled net is a child of that layer.

``tests/data/logs/lstm_nested.log`` is the TEST-phase set-up of ``tests/data/lstm_nested.prototxt`` (Input
data 3x2x4 and cont 3x2, LSTM ``lstm1`` with 5 outputs, RNN ``rnn1`` with 3, InnerProduct ``ip``) in the
wording and order of Caffe's net.cpp / recurrent_layer.cpp: between ``lstm1 -> lstm1`` and ``Setting up
lstm1`` the LSTM logs ``Initializing recurrent layer`` and the whole set-up of its unrolled net (own echo,
25 layers, memory from 0), then ``Adding parameter`` lines; only then the outer layer's own lines.
"""

from __future__ import annotations

from paths import REPO

from caffecx.logs import iter_events, parse_log

LOG = REPO / "tests" / "data" / "logs" / "lstm_nested.log"


def test_the_unrolled_nets_are_children_of_their_layers() -> None:
    log = parse_log(LOG)
    assert len(log.runs) == 1 and len(log.net_logs) == 1
    net = log.net_logs[0]
    assert (net.name, net.phase, net.done) == ("lstm_nested", "TEST", True)
    assert [(r.name, r.top_shapes, r.memory_bytes) for r in net.layers] == [
        ("data", [[3, 2, 4], [3, 2]], 120), ("cont_data_1_split", [[3, 2], [3, 2]], 168),
        ("lstm1", [[3, 2, 5]], 288), ("rnn1", [[3, 2, 3]], 360), ("ip", [[3, 2, 2]], 408)]
    assert net.outputs == ["ip"]
    lstm, rnn = net.children
    assert net.layer("lstm1").nested is lstm and net.layer("rnn1").nested is rnn
    assert net.layer("ip").nested is None
    assert [(c.index, c.parent, len(c.layers), c.done, c.outputs) for c in net.children] == [
        (0, (0, "lstm1"), 25, True, ["c_T", "h_pseudoloss"]), (1, (0, "rnn1"), 27, True, ["o_pseudoloss"])]
    assert lstm.parent_net is net and lstm.param_text.startswith('layer {\n  name: "lstm1_"\n  type: "Input"')
    # memory restarts at 0: x (3x2x4) and cont (3x2) are 30 floats; the pseudo-loss's scalar ends it
    assert [r.memory_bytes for r in lstm.layers][:3] == [120, 200, 224] and lstm.memory_bytes == 2876
    assert [(r.name, r.top_shapes) for r in lstm.layers if r.name == "lstm1_"] == [
        ("lstm1_", [[3, 2, 4], [3, 2]]), ("lstm1_", [[1, 2, 5], [1, 2, 5]]), ("lstm1_", [[1, 2, 5]])]
    assert lstm.layers[-1].loss_weights == [1.0] and rnn.memory_bytes == 940


def test_the_tables_list_the_log_s_net_only() -> None:
    log = parse_log(LOG)
    assert log.nets[["net", "name", "phase", "layers", "memory_bytes", "done"]].values.tolist() == [
        [0, "lstm_nested", "TEST", 5, 408, True]]
    assert log.layers["name"].tolist() == ["data", "cont_data_1_split", "lstm1", "rnn1", "ip"]
    assert log.layers["memory_bytes"].tolist() == [120, 168, 288, 360, 408]
    doc = log.net_logs[0].to_dict()
    assert [(c["parent"], len(c["layers"])) for c in doc["children"]] == [
        ({"net": 0, "layer": "lstm1"}, 25), ({"net": 0, "layer": "rnn1"}, 27)]
    assert "children" not in doc["children"][0] and "parent" not in doc


def test_line_by_line_and_events_nest_the_same_way() -> None:
    bulk = parse_log(LOG).net_logs[0]
    events = list(iter_events(LOG))
    starts = [(e.line, e.data["net"], e.data.get("parent")) for e in events if e.kind == "net_start"]
    assert starts == [(1, 0, None), (92, 0, (0, "lstm1")), (594, 1, (0, "rnn1"))]
    lstm_shapes = [e.data["shape"] for e in events if e.kind == "top_shape" and e.data["layer"] == "lstm1"]
    assert lstm_shapes == [[3, 2, 5]]  # the outer layer's own line, after its unrolled net's set-up
    assert sum(e.kind == "net_done" for e in events) == 3
    text = LOG.read_text()
    assert sum(len(c.layers) for c in bulk.children) + len(bulk.layers) == text.count("] Creating Layer ") == 57


def test_a_net_after_a_set_up_that_died_is_not_nested() -> None:
    # Caffe died connecting the last layer (tops named, none shaped): the next net is a new one
    first = LOG.read_text().split("\n")[:585]  # up to "Adding parameter 2: W_hc", before "Setting up lstm1"
    head = first[0][:first[0].index("]") + 2]
    died = head.replace("I2026", "F2026").replace("net.cpp:53", "net.cpp:140") + "Check failed: x"
    text = "\n".join([*first, died, *LOG.read_text().split("\n")]) + "\n"
    log = parse_log(text.encode())
    assert len(log.net_logs) == 2 and [len(n.children) for n in log.net_logs] == [1, 2]
    assert log.net_logs[0].layer("lstm1").top_shapes == [] and not log.net_logs[0].done
    assert log.runs[0].fatal == "Check failed: x" and len(log.runs) == 2


def test_the_children_s_layers_get_their_types_from_their_own_echo() -> None:
    lstm, rnn = parse_log(LOG).net_logs[0].children
    types = {r.name: r.type for r in lstm.layers}
    assert types["lstm1_h_conted_0"] == "Scale" and types["lstm1_x_transform"] == "InnerProduct"
    assert types["lstm1_unit_1"] == "LSTMUnit" and types["cont_1_lstm1_cont_slice_0_split"] == "Split"
    assert all(r.type is not None for r in lstm.layers + rnn.layers)


def test_the_cli_summary_names_the_unrolled_nets(capsys) -> None:
    from caffecx.cli import main

    assert main(["log", str(LOG)]) == 0
    assert ("set up inside a layer (unrolled nets): net 0 'lstm1' (25 layers, 2876 bytes), "
            "net 0 'rnn1' (27 layers, 940 bytes)") in capsys.readouterr().out.splitlines()
