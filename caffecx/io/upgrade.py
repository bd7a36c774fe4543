"""Caffe's upgrade_proto, reproduced: legacy nets and solvers brought to the current format.

Order and rules follow Caffe's ``UpgradeNetAsNeeded``: V0 (``layers { layer { type: "conv" } }``,
padding layers folded into the next conv/pool) → V1; V1 data-layer transform fields → ``transform_param``;
V1 (``layers { type: CONVOLUTION blobs_lr: … }``) → V2 ``layer { type: "Convolution" param { lr_mult } }``;
net-level ``input``/``input_dim``/``input_shape`` → an ``Input`` layer named ``input``; BatchNorm's three
legacy param specs → lr_mult/decay_mult 0. Solvers: the ``solver_type`` enum → the ``type`` string.

Every function returns a new message and the notes Caffe would log; the input is left untouched.
Where Caffe's upgrade fails (LOG(FATAL) or an incompatible field), `UpgradeError` names the layer.
"""

from __future__ import annotations

from typing import Any

from caffecx.errors import UpgradeError
from caffecx.proto import caffe_pb2

V1 = caffe_pb2.V1LayerParameter

#: V1 enum name → V2 type string (Caffe's UpgradeV1LayerType).
V1_TYPES = {
    "NONE": "", "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL",
    "CONCAT": "Concat", "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution", "DATA": "Data", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN", "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

#: V0 type string → V1 enum name (Caffe's UpgradeV0LayerType).
V0_TYPES = {
    "accuracy": "ACCURACY", "bnll": "BNLL", "concat": "CONCAT", "conv": "CONVOLUTION", "data": "DATA",
    "dropout": "DROPOUT", "euclidean_loss": "EUCLIDEAN_LOSS", "flatten": "FLATTEN", "hdf5_data": "HDF5_DATA",
    "hdf5_output": "HDF5_OUTPUT", "im2col": "IM2COL", "images": "IMAGE_DATA", "infogain_loss": "INFOGAIN_LOSS",
    "innerproduct": "INNER_PRODUCT", "lrn": "LRN", "multinomial_logistic_loss": "MULTINOMIAL_LOGISTIC_LOSS",
    "pool": "POOLING", "relu": "RELU", "sigmoid": "SIGMOID", "softmax": "SOFTMAX", "softmax_loss": "SOFTMAX_LOSS",
    "split": "SPLIT", "tanh": "TANH", "window_data": "WINDOW_DATA",
}

#: The *_param fields V1LayerParameter and LayerParameter share (copied as they are).
V1_SHARED_PARAMS = [
    f.name for f in V1.DESCRIPTOR.fields
    if f.name.endswith("_param") and f.name in caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
]


# -- checks ----------------------------------------------------------------------------------------

def net_needs_v0_to_v1(net: Any) -> bool:
    return any(layer.HasField("layer") for layer in net.layers)


def net_needs_data_upgrade(net: Any) -> bool:
    for layer in net.layers:
        for type_, field in (("DATA", "data_param"), ("IMAGE_DATA", "image_data_param"),
                             ("WINDOW_DATA", "window_data_param")):
            if layer.type == V1.LayerType.Value(type_):
                p = getattr(layer, field)
                if any(p.HasField(f) for f in ("scale", "mean_file", "crop_size", "mirror")):
                    return True
    return False


def net_needs_v1_to_v2(net: Any) -> bool:
    return len(net.layers) > 0


def net_needs_input_upgrade(net: Any) -> bool:
    return len(net.input) > 0


def net_needs_batchnorm_upgrade(net: Any) -> bool:
    return any(layer.type == "BatchNorm" and len(layer.param) == 3 for layer in net.layer)


# -- V0 → V1 ---------------------------------------------------------------------------------------

def upgrade_v0_padding_layers(net: Any) -> Any:
    """Fold each V0 ``padding`` layer into the conv/pool layer reading it (Caffe's CHECKs kept)."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    del out.layers[:]
    last_top: dict[str, int] = {name: -1 for name in net.input}
    for i, conn in enumerate(net.layers):
        lp = conn.layer
        if lp.type != "padding":
            out.layers.add().CopyFrom(conn)
        for j, blob in enumerate(conn.bottom):
            if blob not in last_top:
                raise UpgradeError(f"Unknown blob input {blob} to layer {j}", layer=lp.name)
            top_idx = last_top[blob]
            if top_idx == -1:
                continue
            source = net.layers[top_idx]
            if source.layer.type == "padding":
                if lp.type not in ("conv", "pool"):
                    raise UpgradeError(f"Padding layer input to non-convolutional / non-pooling layer type {lp.type}",
                                       layer=lp.name)
                if len(conn.bottom) != 1:
                    raise UpgradeError("Conv Layer takes a single blob as input.", layer=lp.name)
                if len(source.bottom) != 1:
                    raise UpgradeError("Padding Layer takes a single blob as input.", layer=source.layer.name)
                if len(source.top) != 1:
                    raise UpgradeError("Padding Layer produces a single blob as output.", layer=source.layer.name)
                target = out.layers[len(out.layers) - 1]
                target.layer.pad = source.layer.pad
                target.bottom[j] = source.bottom[0]
        for blob in conn.top:
            last_top[blob] = i
    return out


_CONV, _IP, _POOL = "convolution_param", "inner_product_param", "pooling_param"
_SOURCES = {"data": "data_param", "hdf5_data": "hdf5_data_param", "images": "image_data_param",
            "window_data": "window_data_param"}
_ANY = "*"  # a V0 field every layer type takes
#: Caffe's UpgradeV0LayerParameter, in its order: V0 field, the name its "Unknown parameter" note uses,
#: and where it goes in V1 by V0 type (a V1 parameter message and its field; "" = the V1 layer itself)
_V0_FIELDS: tuple[tuple[str, str, dict[str, tuple[str, str]]], ...] = (
    ("num_output", "num_output", {"conv": (_CONV, "num_output"), "innerproduct": (_IP, "num_output")}),
    ("biasterm", "biasterm", {"conv": (_CONV, "bias_term"), "innerproduct": (_IP, "bias_term")}),
    ("weight_filler", "weight_filler", {"conv": (_CONV, "weight_filler"), "innerproduct": (_IP, "weight_filler")}),
    ("bias_filler", "bias_filler", {"conv": (_CONV, "bias_filler"), "innerproduct": (_IP, "bias_filler")}),
    ("pad", "pad", {"conv": (_CONV, "pad"), "pool": (_POOL, "pad")}),
    ("kernelsize", "kernelsize", {"conv": (_CONV, "kernel_size"), "pool": (_POOL, "kernel_size")}),
    ("group", "group", {"conv": (_CONV, "group")}),
    ("stride", "stride", {"conv": (_CONV, "stride"), "pool": (_POOL, "stride")}),
    ("pool", "pool", {"pool": (_POOL, "pool")}),
    ("dropout_ratio", "dropout_ratio", {"dropout": ("dropout_param", "dropout_ratio")}),
    *((f, f, {"lrn": ("lrn_param", f)}) for f in ("local_size", "alpha", "beta", "k")),
    ("source", "source", {t: (p, "source") for t, p in (*_SOURCES.items(), ("infogain_loss", "infogain_loss_param"))}),
    ("scale", "scale", {_ANY: ("transform_param", "scale")}),
    ("meanfile", "meanfile", {_ANY: ("transform_param", "mean_file")}),
    ("batchsize", "batchsize", {t: (p, "batch_size") for t, p in _SOURCES.items()}),
    ("cropsize", "cropsize", {_ANY: ("transform_param", "crop_size")}),
    ("mirror", "mirror", {_ANY: ("transform_param", "mirror")}),
    ("rand_skip", "rand_skip", {"data": ("data_param", "rand_skip"), "images": ("image_data_param", "rand_skip")}),
    ("shuffle_images", "shuffle", {"images": ("image_data_param", "shuffle")}),
    *((f, f, {"images": ("image_data_param", f)}) for f in ("new_height", "new_width")),
    ("concat_dim", "concat_dim", {"concat": ("concat_param", "concat_dim")}),
    *((f"det_{f}", f"det_{f}", {"window_data": ("window_data_param", f)})
      for f in ("fg_threshold", "bg_threshold", "fg_fraction", "context_pad", "crop_mode")),
    ("hdf5_output_param", "hdf5_output_param", {"hdf5_output": ("", "hdf5_output_param")}),
)


def _put(v0: Any, v0_field: str, target: Any, field: str) -> None:
    """``target.field`` takes V0's value: appended to a repeated field, copied into a message, an enum
    carried over by its name, else assigned."""
    value, held = getattr(v0, v0_field), getattr(target, field)
    if hasattr(held, "CopyFrom"):
        held.CopyFrom(value)
    elif hasattr(held, "append"):
        held.append(value)
    elif (enum := target.DESCRIPTOR.fields_by_name[field].enum_type) is not None:
        name = v0.DESCRIPTOR.fields_by_name[v0_field].enum_type.values_by_number[value].name
        setattr(target, field, enum.values_by_name[name].number)
    else:
        setattr(target, field, value)


def _v0_layer(conn: Any, notes: list[str]) -> Any:
    """Caffe's UpgradeV0LayerParameter: one V0 layer connection → a V1 layer."""
    v1 = V1()
    v1.bottom.extend(conn.bottom)
    v1.top.extend(conn.top)
    if not conn.HasField("layer"):
        return v1
    v0 = conn.layer
    t = v0.type
    if v0.HasField("name"):
        v1.name = v0.name
    if v0.HasField("type"):
        if t not in V0_TYPES:
            raise UpgradeError(f"Unknown layer name: {t}", layer=v0.name)
        v1.type = V1.LayerType.Value(V0_TYPES[t])
    for blob in v0.blobs:
        v1.blobs.add().CopyFrom(blob)
    v1.blobs_lr.extend(v0.blobs_lr)
    v1.weight_decay.extend(v0.weight_decay)
    for v0_field, noted_as, where in _V0_FIELDS:
        if not v0.HasField(v0_field):
            continue
        param, field = where.get(t) or where.get(_ANY) or ("", "")
        if field:
            _put(v0, v0_field, getattr(v1, param) if param else v1, field)
        else:
            notes.append(f"Unknown parameter {noted_as} for layer type {t} (layer {v0.name})")
    return v1


def upgrade_v0_net(net: Any) -> tuple[Any, list[str]]:
    """V0 → V1 (Caffe's UpgradeV0Net)."""
    padded = upgrade_v0_padding_layers(net)
    notes: list[str] = []
    out = caffe_pb2.NetParameter()
    if padded.HasField("name"):
        out.name = padded.name
    for conn in padded.layers:
        out.layers.add().CopyFrom(_v0_layer(conn, notes))
    out.input.extend(padded.input)
    out.input_dim.extend(padded.input_dim)
    if padded.HasField("force_backward"):
        out.force_backward = padded.force_backward
    return out, notes


# -- V1 data transformation --------------------------------------------------------------------------

def upgrade_data_transformation(net: Any) -> Any:
    """Move V1 data layers' scale/mean_file/crop_size/mirror into ``transform_param`` (in place on a copy)."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    for layer in out.layers:
        for type_, field in (("DATA", "data_param"), ("IMAGE_DATA", "image_data_param"),
                             ("WINDOW_DATA", "window_data_param")):
            if layer.type != V1.LayerType.Value(type_):
                continue
            p = getattr(layer, field)
            p.SetInParent()
            layer.transform_param.SetInParent()
            for f in ("scale", "mean_file", "crop_size", "mirror"):
                if p.HasField(f):
                    setattr(layer.transform_param, f, getattr(p, f))
                    p.ClearField(f)
    return out


# -- V1 → V2 ---------------------------------------------------------------------------------------

def upgrade_v1_layer(v1: Any) -> Any:
    """Caffe's UpgradeV1LayerParameter: one V1 layer → a LayerParameter."""
    lp = caffe_pb2.LayerParameter()
    lp.bottom.extend(v1.bottom)
    lp.top.extend(v1.top)
    if v1.HasField("name"):
        lp.name = v1.name
    for rule in v1.include:
        lp.include.add().CopyFrom(rule)
    for rule in v1.exclude:
        lp.exclude.add().CopyFrom(rule)
    if v1.HasField("type"):
        lp.type = V1_TYPES[V1.LayerType.Name(v1.type)]
    for blob in v1.blobs:
        lp.blobs.add().CopyFrom(blob)

    def spec(i: int) -> Any:
        while len(lp.param) <= i:
            lp.param.add()
        return lp.param[i]

    for i, name in enumerate(v1.param):
        spec(i).name = name
    for i, mode in enumerate(v1.blob_share_mode):
        spec(i).share_mode = caffe_pb2.ParamSpec.DimCheckMode.Value(V1.DimCheckMode.Name(mode))
    for i, lr in enumerate(v1.blobs_lr):
        spec(i).lr_mult = lr
    for i, decay in enumerate(v1.weight_decay):
        spec(i).decay_mult = decay
    lp.loss_weight.extend(v1.loss_weight)
    for field in V1_SHARED_PARAMS:
        if v1.HasField(field):
            getattr(lp, field).CopyFrom(getattr(v1, field))
    if v1.HasField("layer"):
        raise UpgradeError("Input NetParameter has V0 layer -- ignoring.", layer=v1.name)
    return lp


def upgrade_v1_net(net: Any) -> Any:
    """V1 → V2 (Caffe's UpgradeV1Net)."""
    if len(net.layer):
        raise UpgradeError("Refusing to upgrade inconsistent NetParameter input; the definition includes "
                           "both 'layer' and 'layers' fields.")
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    del out.layers[:]
    del out.layer[:]
    for v1 in net.layers:
        out.layer.add().CopyFrom(upgrade_v1_layer(v1))
    return out


# -- inputs, BatchNorm -----------------------------------------------------------------------------

def upgrade_net_input(net: Any) -> Any:
    """Net-level input/input_dim/input_shape → an ``Input`` layer named ``input``, placed first."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    has_shape, has_dim = len(net.input_shape) > 0, len(net.input_dim) > 0
    if has_shape or has_dim:
        if has_shape and len(net.input_shape) != len(net.input):
            raise UpgradeError(f"{len(net.input)} inputs but {len(net.input_shape)} input_shape entries")
        if not has_shape and len(net.input_dim) != 4 * len(net.input):
            raise UpgradeError(f"{len(net.input)} inputs need {4 * len(net.input)} input_dim values, "
                               f"found {len(net.input_dim)}")
        layer = caffe_pb2.LayerParameter(name="input", type="Input")
        for i, name in enumerate(net.input):
            layer.top.append(name)
            shape = layer.input_param.shape.add()
            if has_shape:
                shape.CopyFrom(net.input_shape[i])
            else:
                shape.dim.extend(net.input_dim[4 * i:4 * i + 4])
        del out.layer[:]
        out.layer.add().CopyFrom(layer)
        for existing in net.layer:
            out.layer.add().CopyFrom(existing)
    out.ClearField("input")
    out.ClearField("input_shape")
    out.ClearField("input_dim")
    return out


def upgrade_net_batchnorm(net: Any) -> Any:
    """BatchNorm layers declaring three param specs get lr_mult 0 and decay_mult 0 on each."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    for layer in out.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            for spec in layer.param:
                spec.lr_mult = 0.0
                spec.decay_mult = 0.0
    return out


#: UpgradeNetAsNeeded's steps after V0, in Caffe's order: (needed?, upgrade, what its two log lines name,
#: the success line's closing full stop)
_NET_STEPS = (
    (net_needs_data_upgrade, upgrade_data_transformation, "{} specified using deprecated transformation parameters",
     "{} specified using deprecated data transformation parameters."),
    (net_needs_v1_to_v2, upgrade_v1_net, "{} specified using deprecated V1LayerParameter",
     "{} specified using deprecated V1LayerParameter"),
    (net_needs_input_upgrade, upgrade_net_input, "{} specified using deprecated input fields",
     "{} specified using deprecated input fields."),
    (net_needs_batchnorm_upgrade, upgrade_net_batchnorm, "batch norm layers using deprecated params",
     "batch norm layers using deprecated params."),
)


def upgrade_net(net: Any, source: str = "") -> tuple[Any, list[str]]:
    """Caffe's UpgradeNetAsNeeded: (upgraded copy, the notes Caffe logs). An up-to-date net gives no notes."""
    notes: list[str] = []
    out = net
    where = f": {source}" if source else ""
    if net_needs_v0_to_v1(out):
        notes.append(f"Attempting to upgrade input file specified using deprecated V0LayerParameter{where}")
        out, problems = upgrade_v0_net(out)
        notes += problems
        notes.append("Successfully upgraded file specified using deprecated V0LayerParameter" if not problems
                     else "Warning: had one or more problems upgrading V0NetParameter to NetParameter (see above)")
    for needed, upgrade, attempting, succeeded in _NET_STEPS:
        if needed(out):
            notes.append(f"Attempting to upgrade {attempting.format('input file')}{where}")
            out = upgrade(out)
            notes.append(f"Successfully upgraded {succeeded.format('file')}")
    if out is net:
        out = caffe_pb2.NetParameter()
        out.CopyFrom(net)
    return out, notes


SOLVER_TYPES = {"SGD": "SGD", "NESTEROV": "Nesterov", "ADAGRAD": "AdaGrad", "RMSPROP": "RMSProp",
                "ADADELTA": "AdaDelta", "ADAM": "Adam"}


def upgrade_solver(solver: Any, source: str = "") -> tuple[Any, list[str]]:
    """Caffe's UpgradeSolverAsNeeded: the deprecated ``solver_type`` enum → the ``type`` string."""
    out = caffe_pb2.SolverParameter()
    out.CopyFrom(solver)
    notes: list[str] = []
    if out.HasField("solver_type"):
        if out.HasField("type"):
            raise UpgradeError("Failed to upgrade solver: old solver_type field (enum) and new type field "
                               "(string) cannot be both specified.")
        where = f": {source}" if source else ""
        notes.append(f"Attempting to upgrade input file specified using deprecated 'solver_type' field (enum)'{where}")
        out.type = SOLVER_TYPES[caffe_pb2.SolverParameter.SolverType.Name(out.solver_type)]
        out.ClearField("solver_type")
        notes.append("Successfully upgraded file specified using deprecated 'solver_type' field (enum) to "
                     "'type' field (string).")
    return out, notes
