"""The contract every layer type fulfils, and the registry keyed by Caffe's type name.

A layer module declares, in one class, what a Caffe layer type means:

* ``setup(bottom_shapes, ctx)`` -> top shapes, reproducing the layer's ``LayerSetUp`` + ``Reshape``
  (including Caffe's CHECKs: a failed check raises `ShapeError` with Caffe's wording where useful);
* ``param_shapes(bottom_shapes)`` -> the blobs Caffe stores for the layer, in caffemodel order, each
  tagged as a learnable ``weight``, a learnable ``bias`` or a non-learned ``stat`` (BatchNorm);
* ``counts(bottom_shapes, top_shapes)`` -> MACs and FLOPs for the whole batch;
* ``window(bottom_shapes)`` -> how the layer maps space, for receptive fields.

Adding a layer type = one module under ``caffecx/layers`` with a class decorated by
``@register("CaffeTypeName")`` (several names allowed), plus its test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

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
class ParamBlob:
    """One stored blob of a layer: its shape and role (``weight``, ``bias`` or ``stat``)."""

    shape: Shape
    kind: str = "weight"

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
    """

    base_dirs: list[Path] = field(default_factory=lambda: [Path.cwd()])
    input_shapes: dict[str, Shape] = field(default_factory=dict)
    phase: str = "TEST"
    warnings: list[str] = field(default_factory=list)

    def resolve(self, source: str) -> Path | None:
        """The first existing path for `source` among the base folders (absolute paths as they are)."""
        p = Path(source)
        if p.is_absolute():
            return p if p.exists() else None
        for base in self.base_dirs:
            candidate = base / p
            if candidate.exists():
                return candidate
        return None


class Layer:
    """Base class: a Caffe layer type. Subclasses override what differs from the defaults.

    Defaults describe an element-wise layer with one bottom and one top of the same shape, no stored
    blobs, no arithmetic, spatially pointwise.
    """

    type_names: ClassVar[tuple[str, ...]] = ()
    #: FLOPs per output element for simple element-wise layers (ReLU: 1, Sigmoid: ~4, ...).
    flops_per_element: ClassVar[int] = 0
    #: Exact (min, max) number of bottoms / tops Caffe accepts; None = unbounded.
    num_bottoms: ClassVar[tuple[int, int | None]] = (1, 1)
    num_tops: ClassVar[tuple[int, int | None]] = (1, 1)

    def __init__(self, lp: Any) -> None:
        self.lp = lp
        self.name: str = lp.name

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
