"""Convolution-window addressing: the word-line bits of one output position, combinationally.

A ``conv2d`` edge with kernel ``k``, stride ``s`` and zero padding ``pad`` reads, for output
position ``(oy, ox)``, the crossbar rows (docs/hardware-model.md, "Mapping")::

    row (c·k + ky)·k + kx  =  S[c, oy·s - pad + ky, ox·s - pad + kx]   (0 outside the map)

from the source's spike map ``S`` of shape ``(C, H, W)``, stored flat in C order (bit
``(c·H + y)·W + x``). :class:`ConvWindow` computes all ``C·k·k`` rows in the cycle the position
is presented (latency 0), so a read step drives its word lines from the spike buffer directly.

**How.** Each channel is seen as its zero-padded map (``H + 2 pad`` lines of ``W + 2 pad`` bits,
padding as constant zeros: no logic). Window line ``ky`` of channel ``c`` is then the ``k``
contiguous bits starting at ``base + ky · (W + 2 pad)`` of that padded map, with
``base = oy · s · (W + 2 pad) + ox · s``: one variable bit select (a shifter) per channel and
kernel line, ``C · k`` in all. The logic grows with the map, the kernel and the channels, not
with the number of weights.

Example::

    >>> w = ConvWindow(in_shape=(2, 5, 5), kernel=3, stride=2, padding=1)
    >>> w.out_hw, len(w.rows)
    ((3, 3), 18)
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib.wiring import In, Out

from hdl.checks import check_int
from hdl.rtl.component import CheckedComponent
from hdl.rtl.lif import RTLError, _check_name, emit_verilog

__all__ = ["ConvWindow", "conv_window_verilog"]


def _positive(name: str, value: Any, lo: int) -> int:
    return check_int(value, name, lo, error=RTLError)


class ConvWindow(CheckedComponent):
    """The ``C·k·k`` word-line bits of output position ``(oy, ox)`` of a convolution.

    Args:
        in_shape: ``(C, H, W)`` of the source map.
        kernel, stride, padding: of the ``conv2d`` edge (``kernel <= H + 2 padding``).

    Ports:
        spikes: In(C·H·W) -- the source map, bit ``(c·H + y)·W + x``.
        oy, ox: In -- the output position, ``0 <= oy < H_out``, ``0 <= ox < W_out``.
        rows: Out(C·k·k) -- bit ``(c·k + ky)·k + kx`` as in the module doc (combinational).
    """

    @classmethod
    def _check(
        cls, *, in_shape: tuple[int, int, int], kernel: int, stride: int = 1, padding: int = 0
    ) -> dict[str, Any]:
        if len(tuple(in_shape)) != 3:
            raise RTLError(f"in_shape must be (C, H, W), not {in_shape!r}")
        c, h, w = (_positive("in_shape", int(v), 1) for v in in_shape)
        kernel = _positive("kernel", kernel, 1)
        stride = _positive("stride", stride, 1)
        padding = _positive("padding", padding, 0)
        hp, wp = h + 2 * padding, w + 2 * padding
        if kernel > min(hp, wp):
            raise RTLError(
                f"kernel {kernel} is larger than the padded map {hp} x {wp}; use a smaller "
                "kernel or more padding"
            )
        return {
            "in_shape": (c, h, w),
            "kernel": kernel,
            "stride": stride,
            "padding": padding,
            "out_hw": ((hp - kernel) // stride + 1, (wp - kernel) // stride + 1),
        }

    def __init__(self, **params: Any) -> None:  # params checked by _check
        (c, h, w), kernel = self.in_shape, self.kernel
        super().__init__(
            {
                "spikes": In(c * h * w),
                "oy": In(range(max(2, self.out_hw[0]))),
                "ox": In(range(max(2, self.out_hw[1]))),
                "rows": Out(c * kernel * kernel),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        c_in, h, w = self.in_shape
        k, s, pad = self.kernel, self.stride, self.padding
        hp, wp = h + 2 * pad, w + 2 * pad
        base = Signal(range(hp * wp + 1))
        m.d.comb += base.eq(self.oy * (s * wp) + self.ox * s)
        parts = []
        for c in range(c_in):
            chan = self.spikes[c * h * w : (c + 1) * h * w]
            lines = []
            for y in range(-pad, h + pad):
                if 0 <= y < h:
                    row = chan[y * w : (y + 1) * w]
                    lines.append(Cat(Const(0, pad), row, Const(0, pad)) if pad else row)
                else:
                    lines.append(Const(0, wp))
            padded = Cat(*lines)
            for ky in range(k):
                parts.append(padded.bit_select(base + ky * wp, k))
        m.d.comb += self.rows.eq(Cat(*parts))
        return m


def conv_window_verilog(name: str = "conv_window", **params: Any) -> str:
    """Verilog of a :class:`ConvWindow` built with ``params`` (its keyword arguments)."""
    _check_name(name)
    return emit_verilog(ConvWindow(**params), name=name)
