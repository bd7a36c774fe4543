"""The contract every layer type fulfils, and the registry keyed by Caffe's type name.

A layer module declares, in one class, what a Caffe layer type means:

* ``setup(bottom_shapes, ctx)`` -> top shapes, reproducing the layer's ``LayerSetUp`` + ``Reshape``
  (including Caffe's CHECKs: a failed check raises `ShapeError` with Caffe's wording where useful);
* ``param_shapes(bottom_shapes)`` -> the blobs Caffe stores for the layer, in caffemodel order, each
  tagged as a learnable ``weight``, a learnable ``bias`` or a non-learned ``stat`` (BatchNorm);
* ``counts(bottom_shapes, top_shapes)`` -> MACs and FLOPs for the whole batch;
* ``window(bottom_shapes)`` -> how the layer maps space, for receptive fields;
* ``forward(bottoms, blobs, run)`` -> the top arrays of one forward pass (NumPy), reproducing the
  layer's ``Forward_cpu``. It runs only after ``setup`` on the same instance (the plan sets every layer
  up once, with ``bottom_shapes``/``top_shapes`` fixed), so a layer parses its ``*_param`` in ``setup``
  and keeps what it needs on ``self``. ``blobs`` are the layer's stored blobs (checked, reshaped to
  ``param_shapes`` and cast to the run's dtype); a forward never writes into ``bottoms`` or ``blobs``
  — except ``bottoms[0]`` when ``run.overwrite_bottom`` says the executor allows it (an in-place
  layer whose bottom array nothing else holds), which saves the top's allocation.
* ``channel_affine(blobs)`` / ``absorb_channel_affine(blobs, scale, shift)``: a layer that is a
  per-channel affine map (inference BatchNorm, Scale, Bias) and a linear layer that can take one into
  its weights (Convolution): the executor folds such in-place chains when the plan allows.

What a layer type *is* (a data source, a stage-closing pooling, ...) is declared as class facts below,
so no consumer keeps lists of type names.

Adding a layer type = one module under ``caffecx/layers`` with a class decorated by
``@register("CaffeTypeName")`` (several names allowed), plus its test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from caffecx.errors import CaffecxError, ShapeError

Shape = tuple[int, ...]


def count(shape: Sequence[int], start: int = 0, end: int | None = None) -> int:
    """Element count of ``shape[start:end]`` (Caffe's ``Blob::count(start, end)``); 1 for an empty range."""
    return math.prod(shape[start:end])


def canonical_axis(axis: int, num_axes: int, layer: str | None = None) -> int:
    """Caffe's ``Blob::CanonicalAxisIndex``: negative axes count from the end; out of range is an error."""
    if not -num_axes <= axis < num_axes or (num_axes == 0 and axis not in (0, -1)):
        raise ShapeError(f"axis {axis} out of range for a {num_axes}-axis blob", layer=layer)
    return axis + num_axes if axis < 0 else axis


@dataclass(frozen=True)
class InnerNet:
    """A net Caffe sets up inside a layer's own set-up (a recurrent layer's unrolled net): its
    ``NetParameter``, the blobs of it the layer's bottoms fill (in bottom order; its other inputs start
    at zero) and the blobs the layer's tops are (in top order). Its parameters are the layer's blobs:
    each named param at its first owner, in layer order (Caffe's param sharing)."""

    param: Any
    inputs: list[str]
    outputs: list[str]


@dataclass(frozen=True)
class ParamBlob:
    """One stored blob of a layer: its shape, role (``weight``, ``bias`` or ``stat``) and filler.

    ``filler`` is the ``FillerParameter`` Caffe fills the blob with when no weights are loaded (None:
    Caffe's default for the blob, a constant 0, as for BatchNorm's statistics).
    """

    shape: Shape
    kind: str = "weight"
    filler: Any = field(default=None, compare=False)

    @property
    def size(self) -> int:
        return count(self.shape)

    @property
    def learnable(self) -> bool:
        return self.kind in ("weight", "bias")


@dataclass(frozen=True)
class Counts:
    """Arithmetic of one forward pass over the whole batch.

    ``macs``: multiply-accumulates of the layer's linear part (conv, inner product, ...).
    ``flops``: floating-point operations: 2 per MAC, plus bias adds, plus the layer's
    element-wise work (comparisons, exp, divisions each count 1).
    """

    macs: int = 0
    flops: int = 0


@dataclass(frozen=True)
class Window:
    """How a layer maps space along its spatial axes, for receptive-field arithmetic.

    ``kernel``/``stride``/``pad``/``dilation`` are per spatial axis (H, W, ...). ``transposed`` marks a
    deconvolution (the jump divides by the stride). ``global_`` marks a layer whose every output sees
    its whole input (inner product, global pooling, SPP).
    """

    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    pad: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    transposed: bool = False
    global_: bool = False


GLOBAL = Window(global_=True)


@dataclass
class Context:
    """What a shape rule may need beyond the layer's own parameters.

    ``base_dirs``: where relative data sources are looked up (the cwd, then the prototxt's folder).
    ``input_shapes``: user overrides by top name (``--input-shape data=1,3,224,224``), used by data
    layers whose source is absent and by layers whose shape Caffe only knows at run time (Python).
    ``phase``: "TRAIN" or "TEST".
    ``assume_data_shapes``: a data layer whose source is absent takes the shape its prototxt determines
    (batch_size, crop/resize, channels) instead of refusing; each such layer appends
    ``{"layer", "top", "shape", "from"}`` to ``assumed``.
    """

    base_dirs: list[Path] = field(default_factory=lambda: [Path.cwd()])
    input_shapes: dict[str, Shape] = field(default_factory=dict)
    phase: str = "TEST"
    warnings: list[str] = field(default_factory=list)
    assume_data_shapes: bool = True
    assumed: list[dict[str, Any]] = field(default_factory=list)

    def resolve(self, source: str) -> Path | None:
        """The first existing path for `source` among the base folders (absolute paths as they are);
        None for a name no file can have (a NUL byte, a name too long for the system)."""
        try:
            p = Path(source)
            if p.is_absolute():
                return p if p.exists() else None
            return next((base / p for base in self.base_dirs if (base / p).exists()), None)
        except (ValueError, OSError):
            return None


@dataclass
class RunContext:
    """What a forward pass needs beyond a layer's bottoms and blobs.

    ``phase``: "TRAIN" or "TEST" (Dropout, BatchNorm without global stats); ``dtype``: the float type
    of the run (float32 like Caffe, float64 as a reference); ``rng``: the run's random generator
    (Dropout masks, DummyData fillers); ``inputs``: arrays fed by top name (Input layers, or any data
    source a caller overrides); ``base_dirs``: where relative data sources are looked up.
    """

    phase: str = "TEST"
    dtype: Any = np.float32
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    base_dirs: list[Path] = field(default_factory=lambda: [Path.cwd()])
    #: Set by the executor for each layer: ``bottoms[0]`` may be overwritten by the forward.
    overwrite_bottom: bool = False
    #: Set by the executor for each layer: per top, an array of the top's shape to write it into (its
    #: slice of a later Concat's top, or the Concat's top itself), or None. Only a layer that
    #: `writes_into` is offered one; the Concat copies any bottom that did not land in its slice.
    into: list[np.ndarray | None] = field(default_factory=list)


class Layer:
    """Base class: a Caffe layer type. Subclasses override what differs from the defaults.

    Defaults describe an element-wise layer with one bottom and one top of the same shape, no stored
    blobs, no arithmetic, spatially pointwise.
    """

    type_names: ClassVar[tuple[str, ...]] = ()
    # -- what the type is (declared facts; read by the plan, analysis, check, runtime, exporter) -----
    #: Creates its tops from outside the net (Input, Data, ...): the batch axis is its.
    is_source: ClassVar[bool] = False
    #: Its tops come from the caller (``RunContext.inputs``): Input; other sources read their data.
    needs_feed: ClassVar[bool] = False
    #: A window layer that closes one of seed 004's stages when it shrinks the map (Pooling, SPP).
    closes_stage: ClassVar[bool] = False
    #: Its forward writes top j into ``RunContext.into[j]`` when given (Convolution): a Concat's bottoms
    #: made by such layers need no copy.
    writes_into: ClassVar[bool] = False
    #: Its tops share the bottom's data (Split): they own no memory of their own.
    shares_bottom_data: ClassVar[bool] = False
    #: Its top shapes are known only when it runs (Python layers): a failed set-up is "unknown".
    shape_at_run_time: ClassVar[bool] = False
    #: The loss weight of top 0 when the prototxt gives none (Caffe's loss layers: 1; others 0).
    loss_top_weight: ClassVar[float] = 0.0
    #: Its top shapes are fixed only by the data (DetectionOutput's detections): not checked at run time.
    data_dependent_top: ClassVar[bool] = False
    #: 2014's Caffe set it up as a logged layer (an upgraded ``input:`` became an Input layer later).
    logged_by_2014: ClassVar[bool] = True
    #: FLOPs per output element for simple element-wise layers (ReLU: 1, Sigmoid: ~4, ...).
    flops_per_element: ClassVar[int] = 0
    #: Exact (min, max) number of bottoms / tops Caffe accepts; None = unbounded.
    num_bottoms: ClassVar[tuple[int, int | None]] = (1, 1)
    num_tops: ClassVar[tuple[int, int | None]] = (1, 1)

    def __init__(self, lp: Any) -> None:
        self.lp = lp
        self.name: str = lp.name
        #: Fixed by the plan once ``setup`` ran (what ``forward`` may rely on).
        self.bottom_shapes: list[Shape] = []
        self.top_shapes: list[Shape] = []
        self.phase: str = "TEST"

    # -- shape rule -------------------------------------------------------------------------------
    def setup(self, bottom_shapes: list[Shape], ctx: Context) -> list[Shape]:
        """Top shapes for these bottom shapes (default: each top has its bottom's shape)."""
        return [tuple(bottom_shapes[0]) for _ in self.lp.top]

    def param_shapes(self, bottom_shapes: list[Shape]) -> list[ParamBlob]:
        """The blobs Caffe stores for this layer, in caffemodel order."""
        return []

    def counts(self, bottom_shapes: list[Shape], top_shapes: list[Shape]) -> Counts:
        """MACs and FLOPs of one forward pass over the whole batch."""
        elements = sum(count(s) for s in top_shapes)
        return Counts(0, self.flops_per_element * elements)

    def window(self, bottom_shapes: list[Shape]) -> Window | None:
        """Spatial mapping for receptive fields; None = pointwise (the field passes through)."""
        return None

    def check_loss_weights(self) -> None:
        """Caffe's ``Layer::SetLossWeights``: loss weights, when any (a loss layer gets one, 1, when the
        prototxt gives none), must be one per top."""
        given = len(self.lp.loss_weight) or (1 if self.loss_top_weight else 0)
        tops = len(self.lp.top) or (1 if self.loss_top_weight else 0)  # a loss's anonymous top
        self.check(not given or given == tops, f"loss_weight must be unspecified or specified once per top "
                                               f"blob. ({tops} tops vs. {given} loss weights)")

    def declared_pad(self) -> tuple[int, ...] | None:
        """The padding the layer's parameters declare (conv/pool), None for layers without one."""
        return None

    # -- forward ----------------------------------------------------------------------------------
    def forward(self, bottoms: list[np.ndarray], blobs: list[np.ndarray], run: RunContext) -> list[np.ndarray]:
        """Top arrays for these bottoms (Caffe's ``Forward_cpu``); see the module docstring."""
        raise self.fail(f"layer type '{self.lp.type}' has no forward pass in caffecx")

    def inner_net(self, bottom_shapes: list[Shape]) -> InnerNet | None:
        """The net Caffe sets up inside this layer's own set-up (a recurrent layer's unrolled net), None
        for the layers that build none. The exporter writes such a layer as that net's layers."""
        return None

    def forward_refusal(self) -> str | None:
        """Why this layer cannot run (after ``setup``), or None. Checked before any work starts."""
        if type(self).forward is Layer.forward:
            return f"layer type '{self.lp.type}' has no forward pass in caffecx"
        return None

    def channel_affine(self, blobs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        """This layer as ``top = bottom * scale[c] + shift[c]`` along axis 1 (float64 ``(C,)`` arrays),
        when it is such a map with these blobs; None otherwise (the default)."""
        return None

    def absorb_channel_affine(self, blobs: list[np.ndarray], scale: np.ndarray,
                              shift: np.ndarray) -> list[np.ndarray] | None:
        """This linear layer's blobs with a following per-output-channel affine map folded in, or None
        when it cannot take one (the default)."""
        return None

    def fusable_slope(self) -> float | None:
        """This layer as an in-place ReLU the executor may fold into the layer making its blob: its
        negative slope; None for the others (the default)."""
        return None

    def absorb_relu(self, blobs: list[np.ndarray], slope: float) -> list[np.ndarray] | None:
        """This layer's blobs with a following in-place ReLU of `slope` folded in (its forward then
        applies it to each block of the top as the block is made), or None when it cannot (the default)."""
        return None

    def joined_axis(self) -> int | None:
        """The axis along which this layer's top is its bottoms laid side by side (Concat of several
        bottoms), so the executor may have their producers write into its top; None (the default)."""
        return None

    # -- ONNX export ------------------------------------------------------------------------------
    def to_onnx(self, ctx: Any, bottoms: list[str], tops: list[str], blobs: list[np.ndarray]) -> None:
        """Append this layer's ONNX nodes to ``ctx`` (a `caffecx.export.context.OnnxContext`): ``bottoms``
        are the ONNX names of the bottoms, ``tops`` the names the tops must get, ``blobs`` the stored
        blobs (float32, shaped as ``param_shapes``). Runs after ``setup`` on the same instance, like
        ``forward``. The default refuses: the layer type has no ONNX mapping."""
        raise self.fail(f"layer type '{self.lp.type}' has no ONNX mapping")

    # -- helpers for subclasses -------------------------------------------------------------------
    def fail(self, message: str) -> ShapeError:
        """A `ShapeError` located at this layer (raise the result)."""
        return ShapeError(message, layer=self.name)

    def check(self, condition: bool, message: str) -> None:
        """Caffe's CHECK: raise a located `ShapeError` when `condition` is false."""
        if not condition:
            raise self.fail(message)


_REGISTRY: dict[str, type[Layer]] = {}


def register(*type_names: str) -> Callable[[type[Layer]], type[Layer]]:
    """Class decorator: register a layer class under one or more Caffe type names."""

    def deco(cls: type[Layer]) -> type[Layer]:
        cls.type_names = tuple(type_names)
        for name in type_names:
            if name in _REGISTRY and _REGISTRY[name] is not cls:
                raise CaffecxError(f"layer type {name!r} registered twice")
            _REGISTRY[name] = cls
        return cls

    return deco


def registry() -> dict[str, type[Layer]]:
    """Every registered layer type (importing `caffecx.layers` fills it)."""
    return _REGISTRY


def layer_class(type_name: str) -> type[Layer] | None:
    """The class registered for a Caffe type name, or None for an unknown type."""
    return _REGISTRY.get(type_name)
