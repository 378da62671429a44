"""Spike buffer of one layer's input feature map and the address generation of its windows.

:class:`SpikeWindow` holds the spikes ``s[c, y, x]`` of one timestep of a ``(C, H, W)`` feature
map (written by the previous layer) and, for a requested output position ``(oy, ox)`` of a
``k x k`` convolution with ``stride`` and ``padding``, presents the word-line bits of that
window in the row order of docs/hardware-model.md (section 1, ``conv2d``):

``rows[r] = s[c, oy·stride + ky - padding, ox·stride + kx - padding]`` with
``r = (c·k + ky)·k + kx``, and ``0`` where the window leaves the image (padding).

These are the crossbar rows before dropout gating (a dropped row is masked downstream). Output
positions are numbered ``p = oy·W_out + ox`` as in the golden model, with ``H_out = (H +
2·padding - k) // stride + 1`` and ``W_out`` likewise.

**Storage.** The map is a register of ``C·H·W`` bits, bit ``c·H·W + y·W + x`` holding ``s[c, y,
x]`` (the C order of ``(C, H, W)``, the input index ``i`` of the hardware model). Registers let
all ``C·k·k`` bits of a window be read in one cycle; the window of channel ``c`` is one
variable shift of that channel's zero-padded map (the padding is constant wiring, not storage).
This suits the small maps of this project's digits networks (e.g. ``16 x 8 x 8`` = 1024 bits);
the buffer is limited to :data:`MAX_BITS` = 65536 bits (``C·H·W``), beyond which a memory with
a multi-cycle window read would be needed.

**Write port.** One position per write: ``we = 1`` with ``wy``, ``wx`` (``0 .. H-1``, ``0 ..
W-1``) and ``wdata`` (``C`` bits, bit ``c`` = channel ``c``): all channels of the position
``(wy, wx)`` are stored at the rising edge. Writes to positions outside the image are ignored.
This matches the LIF array of the previous layer, which produces all channels of one output
position together.

**Read port (timing).** Latency 1: with ``req = 1`` and ``(oy, ox)`` presented before rising edge
``k``, during the cycle after edge ``k`` ``rows`` holds that window and ``rows_valid = 1``. A
request may be issued every cycle. With ``req = 0``, ``rows`` keeps its value and ``rows_valid``
is 0. Positions with ``oy >= H_out`` or ``ox >= W_out`` are not allowed (``rows`` is then
unspecified). A request reads the map as it was before the edge: a write in the same cycle is
not forwarded, so the previous layer finishes writing a timestep's map before its windows are
requested. The synchronous reset clears the map, ``rows`` and ``rows_valid``.

**Linear layers** are the special case ``k = 1, H = W = 1``: ``C = in_features``, one output
position, ``rows = s`` (a single write of all ``in_features`` bits). A linear edge reading a
square ``(C, H, H)`` map (written position by position) is equally a ``k = H`` window at the one
output position, whose row order ``(c·H + y)·H + x`` is the flatten order of ``(C, H, W)``.
:meth:`SpikeWindow.for_linear` and :meth:`SpikeWindow.for_edge` build both.

Example::

    >>> from hdl.rtl.spikes import SpikeWindow, spike_window_verilog
    >>> win = SpikeWindow(channels=2, height=8, width=8, kernel=3, stride=1, padding=1)
    >>> win.rows_width, win.out_height, win.out_width, win.positions
    (18, 8, 8, 64)
    >>> SpikeWindow.for_linear((10,)).rows_width
    10
    >>> "module spike_window" in spike_window_verilog(channels=1, height=3, width=3, kernel=2)
    True
"""

from __future__ import annotations

import numbers
from typing import Any

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.rtl.lif import RTLError, _check_name, emit_verilog

__all__ = ["MAX_BITS", "SpikeWindow", "spike_window_verilog"]

#: Largest buffer, ``C·H·W`` bits (registers; enough for the digits networks).
MAX_BITS = 1 << 16
CHANNELS = (1, MAX_BITS)
SIZE = (1, 1024)  # height and width
KERNEL = (1, 1024)
STRIDE = (1, 1024)


def _int_param(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise RTLError(f"spike window {name} must be an integer in {lo}..{hi}, not {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise RTLError(f"spike window {name} must be an integer in {lo}..{hi}, not {value}")
    return value


def _width(n: int) -> int:
    """Bits of an unsigned index ``0 .. n - 1`` (at least 1)."""
    return max(1, (n - 1).bit_length())


class SpikeWindow(wiring.Component):
    """Spike buffer of a ``(C, H, W)`` map and its ``k x k`` convolution windows (latency 1).

    Parameters
    ----------
    channels, height, width:
        ``C, H, W`` of the input feature map; ``C·H·W <= MAX_BITS``.
    kernel, stride, padding:
        Of the convolution; ``padding`` in ``0 .. kernel - 1`` (as the IR), and the output
        ``H_out = (H + 2·padding - kernel) // stride + 1`` (and ``W_out``) must be positive.

    Ports
    -----
    we : In(1)
        Write the position ``(wy, wx)``.
    wy : In(unsigned(bits of H - 1)), wx : In(unsigned(bits of W - 1))
        Position written.
    wdata : In(C)
        Spikes of all channels of that position, bit ``c`` = channel ``c``.
    req : In(1)
        Request the window of output position ``(oy, ox)``.
    oy : In(unsigned(bits of H_out - 1)), ox : In(unsigned(bits of W_out - 1))
        Output position, ``oy < H_out``, ``ox < W_out``.
    rows : Out(C·k·k)
        Word-line bits of the window, bit ``r = (c·k + ky)·k + kx`` (registered).
    rows_valid : Out(1)
        ``req`` of the previous cycle.
    """

    #: Cycles from ``req`` to ``rows_valid``.
    latency: int = 1

    def __init__(
        self,
        *,
        channels: int,
        height: int,
        width: int,
        kernel: int = 1,
        stride: int = 1,
        padding: int = 0,
    ) -> None:
        self._MustUse__silence = True  # no warning for an instance refused below
        self.channels = _int_param(channels, "channels", *CHANNELS)
        self.height = _int_param(height, "height", *SIZE)
        self.width = _int_param(width, "width", *SIZE)
        self.kernel = _int_param(kernel, "kernel", *KERNEL)
        self.stride = _int_param(stride, "stride", *STRIDE)
        self.padding = _int_param(padding, "padding", 0, self.kernel - 1)
        bits = self.channels * self.height * self.width
        if bits > MAX_BITS:
            raise RTLError(
                f"spike window channels * height * width = {bits} bits exceeds the register "
                f"buffer's limit of {MAX_BITS}"
            )
        for name, size in (("height", self.height), ("width", self.width)):
            if size + 2 * self.padding < self.kernel:
                raise RTLError(
                    f"spike window kernel {self.kernel} with padding {self.padding} does not fit "
                    f"{name} {size}: the output size (size + 2 * padding - kernel) // stride + 1 "
                    "must be positive"
                )
        self._MustUse__silence = False
        super().__init__(
            {
                "we": In(1),
                "wy": In(unsigned(_width(self.height))),
                "wx": In(unsigned(_width(self.width))),
                "wdata": In(self.channels),
                "req": In(1),
                "oy": In(unsigned(_width(self.out_height))),
                "ox": In(unsigned(_width(self.out_width))),
                "rows": Out(self.rows_width),
                "rows_valid": Out(1),
            }
        )

    @classmethod
    def for_linear(cls, in_shape: Any) -> SpikeWindow:
        """The window of a linear edge reading ``in_shape``: ``(N,)`` or a square ``(C, H, H)``.

        ``(N,)`` gives ``C = N, H = W = k = 1``; ``(C, H, H)`` gives ``k = H`` (stride 1, no
        padding), whose one window is the flattened map in C order.
        """
        shape = tuple(in_shape) if isinstance(in_shape, (tuple, list)) else None
        if shape is not None and len(shape) == 1:
            return cls(channels=shape[0], height=1, width=1)
        if shape is not None and len(shape) == 3:
            c, h, w = shape
            if h != w:
                raise RTLError(
                    f"spike window for a linear edge needs a flat (N,) or square (C, H, H) input "
                    f"shape, not {shape}"
                )
            return cls(channels=c, height=h, width=w, kernel=h)
        raise RTLError(f"spike window in_shape must be (N,) or (C, H, W), not {in_shape!r}")

    @classmethod
    def for_edge(cls, edge: Any, in_shape: Any) -> SpikeWindow:
        """The window of an ``hdl.ir.Edge`` (``linear`` or ``conv2d``) reading ``in_shape``."""
        if edge.kind == "linear":
            return cls.for_linear(in_shape)
        if edge.kind != "conv2d":
            raise RTLError(f"spike window needs a linear or conv2d edge, not {edge.kind!r}")
        c, h, w = in_shape
        return cls(
            channels=c,
            height=h,
            width=w,
            kernel=edge.kernel,
            stride=edge.stride,
            padding=edge.padding,
        )

    @property
    def out_height(self) -> int:
        """``H_out = (H + 2·padding - k) // stride + 1``."""
        return (self.height + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def out_width(self) -> int:
        """``W_out = (W + 2·padding - k) // stride + 1``."""
        return (self.width + 2 * self.padding - self.kernel) // self.stride + 1

    @property
    def positions(self) -> int:
        """Output positions ``H_out·W_out`` (``EdgeGeometry.positions``)."""
        return self.out_height * self.out_width

    @property
    def rows_width(self) -> int:
        """Word lines of a window, ``C·k·k`` (``EdgeGeometry.rows``)."""
        return self.channels * self.kernel * self.kernel

    @property
    def params(self) -> dict[str, Any]:
        """The constructor arguments."""
        return {
            "channels": self.channels,
            "height": self.height,
            "width": self.width,
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
        }

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        C, H, W = self.channels, self.height, self.width
        k, st, pad = self.kernel, self.stride, self.padding
        hw = H * W
        wp = W + 2 * pad  # width of the zero-padded map

        fmap = Signal(C * hw)
        # Write port: one position, all channels.
        for y in range(H):
            for x in range(W):
                with m.If(self.we & (self.wy == y) & (self.wx == x)):
                    m.d.sync += [fmap[c * hw + y * W + x].eq(self.wdata[c]) for c in range(C)]

        # Window origin in the padded map, then one variable shift per channel.
        base = Signal(range((self.out_height - 1) * st * wp + (self.out_width - 1) * st + 1))
        m.d.comb += base.eq(self.oy * (st * wp) + self.ox * st)
        span = (k - 1) * wp + k
        window = []
        for c in range(C):
            parts = []
            for py in range(H + 2 * pad):
                y = py - pad
                if 0 <= y < H:
                    row = fmap[c * hw + y * W : c * hw + (y + 1) * W]
                    parts.append(Cat(Const(0, pad), row, Const(0, pad)) if pad else row)
                else:
                    parts.append(Const(0, wp))
            padded = Cat(*parts)  # bit py·wp + px
            win = padded.bit_select(base, span)
            window += [win[ky * wp + kx] for ky in range(k) for kx in range(k)]

        with m.If(self.req):
            m.d.sync += self.rows.eq(Cat(*window))
        m.d.sync += self.rows_valid.eq(self.req)
        return m


def spike_window_verilog(name: str = "spike_window", **params: Any) -> str:
    """Verilog of a :class:`SpikeWindow` built with ``params`` (its keyword arguments)."""
    _check_name(name)
    return emit_verilog(SpikeWindow(**params), name=name)
