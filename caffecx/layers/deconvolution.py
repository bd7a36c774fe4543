"""Deconvolution (transposed convolution), reading ``convolution_param`` like Convolution.

Caffe rule (DeconvolutionLayer::compute_output_shape): per spatial axis
``out = stride*(in-1) + (dilation*(k-1)+1) - 2*pad`` — no ``output_padding`` exists in Caffe, so the
output size is fully determined (PyTorch/ONNX need ``output_padding`` to hit other sizes).

Stored blobs: weight ``(channels_in, num_output/group, *kernel)`` — the first two axes are swapped with
respect to Convolution — then bias ``(num_output,)``.

Counts use the scatter form Caffe computes (col2im of a GEMM over the *input*):
MACs = N * C_in * prod(in spatial) * (C_out/group) * prod(kernel);
FLOPs = 2*MACs + N*C_out*prod(out) bias adds when ``bias_term``.
"""

from __future__ import annotations

from caffecx.layers.base import register
from caffecx.layers.convolution import Convolution


@register("Deconvolution")
class Deconvolution(Convolution):
    """Caffe's ``Deconvolution``: Convolution's parameters, transposed geometry and weight layout."""

    transposed = True
