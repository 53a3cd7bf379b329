"""Builtin-only forward and backward pieces for 2-D convolution and pooling (NHWC, static shapes).

TensorFlow's own gradients for these ops (Conv2DBackpropFilter, DepthwiseConv2dNativeBackprop*,
MaxPoolGrad, AvgPoolGrad) need the Flex delegate. These are written with ops that lower to
TFLite builtins: matrix products of patches, convolutions of transposed tensors, zero insertion
by reshape and pad, and strided slices. They are also laid out for speed: the interpreters run
convolutions fast only with a constant filter, matrix products of computed tensors fast always,
and every slice or reshape the graph keeps may cost a copy. Everything here runs inside a
``tf.function``; ``tf`` is passed in by the caller so importing this module stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Window:
    """A sliding window along one spatial axis: kernel size, stride, dilation and padding."""

    size: int
    stride: int
    padding: str  # "valid" | "same"
    in_len: int
    dilation: int = 1

    @property
    def span(self) -> int:
        """Extent of the (dilated) kernel."""
        return (self.size - 1) * self.dilation + 1

    @property
    def out_len(self) -> int:
        if self.padding == "same":
            return -(-self.in_len // self.stride)
        return (self.in_len - self.span) // self.stride + 1

    @property
    def pad_before(self) -> int:
        return self.pad_total // 2

    @property
    def pad_total(self) -> int:
        if self.padding != "same":
            return 0
        return max((self.out_len - 1) * self.stride + self.span - self.in_len, 0)

    @property
    def used_len(self) -> int:
        """Length of the padded input that some window reads."""
        return (self.out_len - 1) * self.stride + self.span

    @property
    def padded_len(self) -> int:
        return self.in_len + self.pad_total


def crop(tf: Any, x: Any, top: int, left: int, height: int, width: int) -> Any:
    """x[:, top : top + height, left : left + width, :], with no op when nothing is cut (a slice is a copy)."""
    if (top, left, height, width) == (0, 0, *x.shape[1:3]):
        return x
    return x[:, top : top + height, left : left + width, :]


def pad_input(tf: Any, x: Any, rows: Window, cols: Window, value: float = 0.0) -> Any:
    """Pad x [B,H,W,C] as the forward op does, then crop to what the windows read."""
    paddings = [[0, 0], [rows.pad_before, rows.pad_total - rows.pad_before],
                [cols.pad_before, cols.pad_total - cols.pad_before], [0, 0]]
    if rows.pad_total or cols.pad_total:
        x = tf.pad(x, paddings, constant_values=value)
    return crop(tf, x, 0, 0, rows.used_len, cols.used_len)


def unpad_grad(tf: Any, grad_used: Any, rows: Window, cols: Window) -> Any:
    """Gradient w.r.t. the cropped padded input → gradient w.r.t. the original input."""
    extra = [[0, 0], [0, rows.padded_len - rows.used_len], [0, cols.padded_len - cols.used_len], [0, 0]]
    if extra[1][1] or extra[2][1]:
        grad_used = tf.pad(grad_used, extra)
    return crop(tf, grad_used, rows.pad_before, cols.pad_before, rows.in_len, cols.in_len)


def dilate(tf: Any, x: Any, row_stride: int, col_stride: int) -> Any:
    """Insert stride-1 zeros between rows and columns of x [B,H,W,C] (4-D ops only)."""
    b, h, w, c = x.shape
    if row_stride > 1:
        x = tf.reshape(x, [b, h, 1, w * c])
        x = tf.pad(x, [[0, 0], [0, 0], [0, row_stride - 1], [0, 0]])
        x = tf.reshape(x, [b, h * row_stride, w, c])[:, : (h - 1) * row_stride + 1]
        h = (h - 1) * row_stride + 1
    if col_stride > 1:
        x = tf.reshape(x, [b * h, w, 1, c])
        x = tf.pad(x, [[0, 0], [0, 0], [0, col_stride - 1], [0, 0]])
        x = tf.reshape(x, [b, h, w * col_stride, c])[:, :, : (w - 1) * col_stride + 1]
    return x


def _correlation_padding(window: Window, dilated_len: int) -> tuple[int, int]:
    """(before, after) zero padding of the dilated dy so that a VALID stride-1 correlation with the
    flipped kernel yields exactly the input's ``in_len`` positions (after < 0 crops dy)."""
    before = window.span - 1 - window.pad_before
    return before, window.in_len + window.span - 1 - before - dilated_len


def full_correlation_input(tf: Any, dy: Any, rows: Window, cols: Window) -> Any:
    """dy dilated by the stride and padded (or cropped) so that a VALID stride-1 correlation with
    the flipped kernel gives the gradient w.r.t. the unpadded input."""
    dy = dilate(tf, dy, rows.stride, cols.stride)
    (top, bottom), (left, right) = _correlation_padding(rows, dy.shape[1]), _correlation_padding(cols, dy.shape[2])
    dy = crop(tf, dy, 0, 0, dy.shape[1] + min(bottom, 0), dy.shape[2] + min(right, 0))
    return tf.pad(dy, [[0, 0], [top, max(bottom, 0)], [left, max(right, 0)], [0, 0]])


def flip_spatial(tf: Any, kernel: Any) -> Any:
    """Reverse a kernel's two spatial axes, one axis per op (REVERSE_V2 before 2.15 reverses one axis)."""
    return tf.reverse(tf.reverse(kernel, [0]), [1])


def window_selector(rows: Window, cols: Window, channels: int) -> np.ndarray:
    """A constant depthwise filter [span_r, span_c, C, KH·KW] whose output channel (c, i, j) copies
    the input channel c under kernel offset (i, j); dilation is spelled out in the span."""
    selector = np.zeros([rows.span, cols.span, channels, rows.size * cols.size], np.float32)
    for i in range(rows.size):
        for j in range(cols.size):
            selector[i * rows.dilation, j * cols.dilation, :, i * cols.size + j] = 1.0
    return selector


def patches(tf: Any, x: Any, rows: Window, cols: Window) -> Any:
    """im2col: [B, OH, OW, C·KH·KW], each output position's window, in (c, i, j) order.

    One depthwise convolution with a constant one-hot filter gathers them: the interpreter runs it
    with its fast static-filter kernels, where slicing would copy a few bytes at a time."""
    unit = Window(rows.span, rows.stride, rows.padding, rows.in_len), Window(cols.span, cols.stride, cols.padding, cols.in_len)
    return depthwise(tf, x, tf.constant(window_selector(rows, cols, x.shape[-1])), *unit)


def conv2d(tf: Any, x: Any, kernel: Any, rows: Window, cols: Window, constant_kernel: bool = False) -> Any:
    """2-D convolution. The interpreter's fast convolution kernels need a constant filter, so a
    constant (frozen) kernel gets CONV_2D and a variable one a matrix product of the input's patches
    with the kernel (a product of two computed tensors runs on fast matrix kernels)."""
    if constant_kernel:
        return tf.nn.conv2d(x, kernel, strides=[1, rows.stride, cols.stride, 1], padding=rows.padding.upper(),
                            dilations=[1, rows.dilation, cols.dilation, 1])
    kh, kw, c_in, c_out = kernel.shape
    weights = tf.reshape(tf.transpose(kernel, [2, 0, 1, 3]), [c_in * kh * kw, c_out])
    return tf.matmul(patches(tf, x, rows, cols), weights)


def conv2d_input_grad(tf: Any, dy: Any, kernel: Any, rows: Window, cols: Window, constant_kernel: bool = False) -> Any:
    """d conv2d / dx: stride-1 correlation of the dilated, padded dy with the flipped, transposed kernel."""
    padded = full_correlation_input(tf, dy, rows, cols)
    unit = tuple(Window(w.size, 1, "valid", padded.shape[1 + a], w.dilation) for a, w in enumerate((rows, cols)))
    return conv2d(tf, padded, tf.transpose(flip_spatial(tf, kernel), [0, 1, 3, 2]), *unit, constant_kernel)


def conv2d_kernel_grad(tf: Any, x: Any, dy: Any, rows: Window, cols: Window) -> Any:
    """d conv2d / d kernel: the input's patches (shared with the forward pass) times dy."""
    c_in, c_out = x.shape[-1], dy.shape[-1]
    flat_patches = tf.reshape(patches(tf, x, rows, cols), [-1, c_in * rows.size * cols.size])
    grad = tf.matmul(flat_patches, tf.reshape(dy, [-1, c_out]), transpose_a=True)
    return tf.transpose(tf.reshape(grad, [c_in, rows.size, cols.size, c_out]), [1, 2, 0, 3])


def depthwise(tf: Any, x: Any, kernel: Any, rows: Window, cols: Window, padding: str | None = None) -> Any:
    return tf.raw_ops.DepthwiseConv2dNative(
        input=x, filter=kernel, strides=[1, rows.stride, cols.stride, 1], padding=(padding or rows.padding).upper(),
        dilations=[1, rows.dilation, cols.dilation, 1])


def depthwise_input_grad(tf: Any, dy: Any, kernel: Any, rows: Window, cols: Window) -> Any:
    """d depthwise / dx: per-channel correlation with the flipped kernel, summed over the multiplier."""
    kh, kw, channels, multiplier = kernel.shape
    flipped = tf.reshape(flip_spatial(tf, kernel), [kh, kw, channels * multiplier, 1])
    unit = Window(1, 1, "valid", 1, rows.dilation), Window(1, 1, "valid", 1, cols.dilation)
    grad = depthwise(tf, full_correlation_input(tf, dy, rows, cols), flipped, *unit, padding="valid")
    if multiplier > 1:
        b, h, w, _ = grad.shape
        grad = tf.reduce_sum(tf.reshape(grad, [b, h, w, channels, multiplier]), axis=4)
    return grad


def depthwise_kernel_grad(tf: Any, x: Any, dy: Any, rows: Window, cols: Window, multiplier: int) -> Any:
    """d depthwise / d kernel as one depthwise convolution over (batch × channel) planes."""
    x_used = pad_input(tf, x, rows, cols)
    batch, height, width, channels = x_used.shape
    images = tf.reshape(tf.transpose(x_used, [1, 2, 0, 3]), [1, height, width, batch * channels])
    out_h, out_w = dy.shape[1], dy.shape[2]
    filters = tf.transpose(tf.reshape(dy, [batch, out_h, out_w, channels, multiplier]), [1, 2, 0, 3, 4])
    filters = tf.reshape(filters, [out_h, out_w, batch * channels, multiplier])
    grad = tf.raw_ops.DepthwiseConv2dNative(input=images, filter=filters, strides=[1, rows.dilation, cols.dilation, 1],
                                            padding="VALID", dilations=[1, rows.stride, cols.stride, 1])
    grad = tf.reshape(grad, [rows.size, cols.size, batch, channels, multiplier])
    return tf.reduce_sum(grad, axis=2)


def window_slices(tf: Any, x_used: Any, rows: Window, cols: Window) -> list[tuple[int, int, Any]]:
    """The input under each kernel offset (i, j), strided to the output grid."""
    stop_r, stop_c = (rows.out_len - 1) * rows.stride + 1, (cols.out_len - 1) * cols.stride + 1
    return [(i, j, x_used[:, i : i + stop_r : rows.stride, j : j + stop_c : cols.stride, :])
            for i in range(rows.size) for j in range(cols.size)]


def scatter_windows(tf: Any, parts: list[tuple[int, int, Any]], rows: Window, cols: Window) -> Any:
    """Sum per-offset gradients [B,OH,OW,C] back onto the input grid (the adjoint of window_slices)."""
    total = None
    for i, j, part in parts:
        spread = dilate(tf, part, rows.stride, cols.stride)
        pad_r, pad_c = rows.used_len - i - spread.shape[1], cols.used_len - j - spread.shape[2]
        placed = tf.pad(spread, [[0, 0], [i, pad_r], [j, pad_c], [0, 0]])
        total = placed if total is None else total + placed
    return unpad_grad(tf, total, rows, cols)


def tiles_exactly(rows: Window, cols: Window) -> bool:
    """True when square windows tile the input with no overlap, gap or padding."""
    return (rows.size == rows.stride == cols.size == cols.stride and rows.pad_total == cols.pad_total == 0
            and rows.in_len % rows.size == 0 and cols.in_len % cols.size == 0)


def window_blocks(tf: Any, x: Any, block: int) -> Any:
    """x [B,H,W,C] → [B·OH·OW, block², C]: each non-overlapping window's elements in row-major order."""
    b, h, w, c = x.shape
    return tf.reshape(tf.nn.space_to_depth(x, block), [b * (h // block) * (w // block), block * block, c])


def from_window_blocks(tf: Any, blocks: Any, shape: tuple[int, ...], block: int) -> Any:
    """The inverse of window_blocks."""
    b, h, w, c = shape
    return tf.nn.depth_to_space(tf.reshape(blocks, [b, h // block, w // block, block * block * c]), block)
