"""Deconvolution (transposed convolution), reading ``convolution_param`` like Convolution.

Caffe rule (DeconvolutionLayer::compute_output_shape): per spatial axis
``out = stride*(in-1) + (dilation*(k-1)+1) - 2*pad`` — no ``output_padding`` exists in Caffe, so the
output size is fully determined (PyTorch/ONNX need ``output_padding`` to hit other sizes).

Stored blobs: weight ``(channels_in, num_output/group, *kernel)`` — the first two axes are swapped with
respect to Convolution — then bias ``(num_output,)``.

Counts use the scatter form Caffe computes (col2im of a GEMM over the *input*):
MACs = N * C_in * prod(in spatial) * (C_out/group) * prod(kernel);
FLOPs = 2*MACs + N*C_out*prod(out) bias adds when ``bias_term``.

Forward (Caffe's ``backward_cpu_gemm`` run forwards): per group, columns = ``W_g^T @ x_g`` with
``W_g`` of shape ``(C_in/g, C_out/g*K)``, then col2im onto the output (taps landing in the ``pad``
border are dropped), then the bias. N-d and dilated like Convolution.
"""

from __future__ import annotations

import math

import numpy as np

from caffecx.layers._windows import col2im
from caffecx.layers.base import Shape, register
from caffecx.layers.convolution import Convolution, Then
from caffecx.layers.spatial import Geometry


@register("Deconvolution")
class Deconvolution(Convolution):
    """Caffe's ``Deconvolution``: Convolution's parameters, transposed geometry and weight layout."""

    transposed = True
    writes_into = False  # col2im makes its own top: `into` is never offered

    def compute(self, x: np.ndarray, weight: np.ndarray, out: Shape, bias: np.ndarray | None,
                then: Then = None, into: np.ndarray | None = None) -> np.ndarray:
        y = deconv_nd(x, weight, self.parsed.geometry, self.parsed.group, tuple(out))
        if bias is not None:
            y += bias.reshape(-1, *(1,) * (y.ndim - 2))
        if then is not None:
            then(y)
        return y


def deconv_nd(x: np.ndarray, weight: np.ndarray, geo: Geometry, group: int, out: Shape) -> np.ndarray:
    """Transposed N-d convolution (no bias): ``x (num, C_in, *in)``, ``weight (C_in, C_out/group,
    *kernel)`` -> ``(num, C_out, *out)``."""
    num, channels = x.shape[:2]
    spatial = x.shape[2:]
    c_out = weight.shape[1] * group
    k = math.prod(geo.kernel)
    if math.prod(out) == 0 or num == 0:
        return np.zeros((num, c_out, *out), dtype=x.dtype)
    w = weight.reshape(group, channels // group, c_out // group * k).transpose(0, 2, 1)
    cols = np.matmul(w, x.reshape(num, group, channels // group, math.prod(spatial)))
    cols = cols.reshape(num, c_out, *geo.kernel, *spatial)
    y = col2im(cols, out, geo.kernel, geo.stride, geo.pad, geo.dilation)
    return np.ascontiguousarray(y)
