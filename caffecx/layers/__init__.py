"""Layer types, one module each, registered by Caffe's type name.

Importing this package imports every module in it, so the registry is complete.
"""

from __future__ import annotations

import importlib
import pkgutil

from caffecx.layers.base import (
    GLOBAL,
    Context,
    Counts,
    InnerNet,
    Layer,
    ParamBlob,
    RunContext,
    Shape,
    Window,
    layer_class,
    register,
    registry,
)

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = [
    "GLOBAL",
    "Context",
    "Counts",
    "InnerNet",
    "Layer",
    "ParamBlob",
    "RunContext",
    "Shape",
    "Window",
    "layer_class",
    "register",
    "registry",
]
