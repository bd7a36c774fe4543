"""Caffe's InsertSplits: a blob read by several layers gets a Split layer with one top per reader.

Names follow Caffe exactly: the layer ``{blob}_{layer}_{top_index}_split`` with tops
``{blob}_{layer}_{top_index}_split_{k}`` (e.g. ``label_mnist_1_split``, ``pool1_pool1_0_split_2``).
A top with a non-zero ``loss_weight`` counts as one more reader, as in Caffe.
"""

from __future__ import annotations

from typing import Any

from caffecx.errors import GraphError
from caffecx.proto import caffe_pb2


def split_layer_name(layer: str, blob: str, top_index: int) -> str:
    return f"{blob}_{layer}_{top_index}_split"


def split_blob_name(layer: str, blob: str, top_index: int, split_index: int) -> str:
    return f"{blob}_{layer}_{top_index}_split_{split_index}"


def insert_splits(net_param: Any, lines: list[Any] | None = None) -> tuple[Any, list[Any]]:
    """(NetParameter with Split layers, the source position given per layer: None for inserted splits)."""
    layers = list(net_param.layer)
    lines = list(lines) if lines is not None else [None] * len(layers)
    last_top: dict[str, tuple[int, int]] = {}
    source_of: dict[tuple[int, int], tuple[int, int]] = {}
    readers: dict[tuple[int, int], int] = {}
    loss_weight: dict[tuple[int, int], float] = {}
    for i, layer in enumerate(layers):
        for j, blob in enumerate(layer.bottom):
            if blob not in last_top:
                pos = lines[i]
                raise GraphError(f"Unknown bottom blob '{blob}' (layer '{layer.name}', bottom index {j})",
                                 layer=layer.name, line=pos[0] if isinstance(pos, tuple) else pos)
            src = last_top[blob]
            source_of[(i, j)] = src
            readers[src] = readers.get(src, 0) + 1
        for j, blob in enumerate(layer.top):
            last_top[blob] = (i, j)
        for j in range(len(layer.top)):
            w = layer.loss_weight[j] if j < len(layer.loss_weight) else 0.0
            if w:
                loss_weight[(i, j)] = w
                readers[(i, j)] = readers.get((i, j), 0) + 1

    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    out_lines: list[Any] = []
    next_split: dict[tuple[int, int], int] = {}
    for i, layer in enumerate(layers):
        new = out.layer.add()
        new.CopyFrom(layer)
        out_lines.append(lines[i])
        for j, blob in enumerate(layer.bottom):
            src = source_of[(i, j)]
            if readers.get(src, 0) > 1:
                k = next_split.get(src, 0)
                next_split[src] = k + 1
                new.bottom[j] = split_blob_name(layers[src[0]].name, blob, src[1], k)
        for j, blob in enumerate(layer.top):
            n = readers.get((i, j), 0)
            if n > 1:
                split = out.layer.add()
                split.name = split_layer_name(layer.name, blob, j)
                split.type = "Split"
                split.bottom.append(blob)
                split.top.extend(split_blob_name(layer.name, blob, j, k) for k in range(n))
                w = loss_weight.get((i, j), 0.0)
                if w:
                    split.loss_weight.extend([w] + [0.0] * (n - 1))
                    del new.loss_weight[:]
                    next_split[(i, j)] = next_split.get((i, j), 0) + 1
                out_lines.append(None)
    return out, out_lines
