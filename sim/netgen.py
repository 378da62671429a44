"""Seeded networks and hardware configurations for testing the generated RTL.

:func:`random_network` draws a small but complete network from a seed: convolutions (kernel,
stride, padding), linear layers, a cell with a skip edge, weights of 1 to 4 bits, direct or
rate input coding, MTJ or LFSR dropout of row or channel granularity, ``membrane`` or
``count`` output decoding, LIF neurons with either reset and an optional leak; and a hardware
configuration with small tiles (so edges span several row and column tiles), 1- or 2-bit
cells, narrow ADCs (so column sums saturate), multiplexed ADCs and a few LIF units.
:func:`example_networks` are the hand-made cases every testbench runs;
:func:`long_fill_examples` and :func:`pipeline_examples` those of double-buffered masks whose
fill outlasts a sample and of pipelined layers whose producers wait for slower consumers.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hdl.hwconfig import HardwareConfig
from hdl.ir import DropoutSpec, Edge, InputSpec, Layer, LFSRSpec, Network, Neuron

__all__ = [
    "CELL_HW",
    "CONV_HW",
    "cell_example",
    "conv_example",
    "example_networks",
    "long_fill_examples",
    "pipeline_examples",
    "random_images",
    "random_network",
]


def _weights(rng: np.random.Generator, shape: tuple[int, ...], bits: int) -> np.ndarray:
    if bits == 1:
        return rng.choice([-1, 1], shape)
    top = 2 ** (bits - 1) - 1
    return rng.integers(-top, top + 1, shape)


def _dropout(rng: np.random.Generator, conv: bool) -> DropoutSpec | None:
    kind = rng.integers(0, 3)
    if kind == 0:
        return None
    return DropoutSpec(
        p=float(rng.choice([0.1, 0.25, 0.5])),
        granularity="channel" if conv and rng.random() < 0.5 else "row",
        source="mtj" if kind == 1 else "lfsr",
        modules=int(rng.integers(1, 5)),
    )


def _neuron(rng: np.random.Generator, channels: int, scale: int) -> Neuron:
    mb = int(rng.integers(8, 13))
    top = min(2 ** (mb - 1) - 1, max(2, scale))
    return Neuron(
        threshold=rng.integers(1, top + 1, channels),
        leak_shift=None if rng.random() < 0.5 else int(rng.integers(1, 4)),
        reset="subtract" if rng.random() < 0.6 else "zero",
        membrane_bits=mb,
    )


def _dac_bits(rng: np.random.Generator) -> int:
    """``input_dac_bits`` of a random chip: 1 (bit-serial) half the time, else 2, 3 or 4."""
    return 1 if rng.random() < 0.5 else int(rng.integers(2, 5))


def random_network(seed: int) -> tuple[Network, HardwareConfig]:
    """A random valid network with weights and a matching small hardware configuration (serial
    or pipelined ADCs, single or double-buffered masks, reads in turn or overlapped, layers in
    turn or pipelined: ``adc_pipelined``, ``mask_double_buffer``, ``overlap_reads`` and then
    ``pipeline_layers`` drawn with probability 1/2 each; then ``input_dac_bits``, 1 with
    probability 1/2, else 2, 3 or 4; then ``pixels_per_transfer`` one of 1, 3 and 8 (a partial
    last transfer for most input sizes), ``stream_while_busy`` (probability 1/2) and last
    ``pipeline_samples`` (probability 1/2); each new
    option drawn after the earlier ones, so the earlier draws of a seed stay the same)."""
    rng = np.random.default_rng(seed)
    c, h, w = int(rng.integers(1, 3)), int(rng.integers(3, 7)), int(rng.integers(3, 7))
    bits = int(rng.integers(1, 5))
    rate = rng.random() < 0.3
    inp = InputSpec((c, h, w), bits=bits, encoding="rate" if rate else "direct")
    layers: list[Layer] = []
    shape: tuple[int, ...] = (c, h, w)
    src = "input"
    scale = 2**bits - 1 if not rate else 1
    n_hidden = int(rng.integers(1, 3))
    for k in range(n_hidden):
        wb = int(rng.integers(1, 5))
        if len(shape) == 3 and rng.random() < 0.6:
            kern = int(rng.integers(1, 4))
            pad = int(rng.integers(0, 2)) if kern > 1 else 0
            stride = int(rng.integers(1, 3))
            ho = (shape[1] + 2 * pad - kern) // stride + 1
            wo = (shape[2] + 2 * pad - kern) // stride + 1
            if ho < 1 or wo < 1:
                kern, pad, stride, ho, wo = 1, 0, 1, shape[1], shape[2]
            cout = int(rng.integers(2, 5))
            edge = Edge(
                "conv2d",
                src,
                weight_bits=wb,
                kernel=kern,
                stride=stride,
                padding=pad,
                weight=_weights(rng, (cout, shape[0], kern, kern), wb),
                dropout=_dropout(rng, True),
            )
            out: tuple[int, ...] = (cout, ho, wo)
            rows = shape[0] * kern * kern
        else:
            n_in = int(np.prod(shape))
            cout = int(rng.integers(3, 13))
            edge = Edge(
                "linear",
                src,
                weight_bits=wb,
                weight=_weights(rng, (cout, n_in), wb),
                dropout=_dropout(rng, False),
            )
            out = (cout,)
            rows = n_in
        top_w = 1 if wb == 1 else 2 ** (wb - 1) - 1
        drive = max(2, scale * rows * top_w // 6)
        bias = rng.integers(-2, 3, out[0]) if rng.random() < 0.5 else None
        name = f"h{k}"
        layers.append(Layer(name, (edge,), out, neuron=_neuron(rng, out[0], drive), bias=bias))
        if rng.random() < 0.5:  # a cell: the same shape again, with a skip edge from `name`
            wb2 = int(rng.integers(1, 4))
            if len(out) == 3:
                e2 = Edge(
                    "conv2d",
                    name,
                    weight_bits=wb2,
                    kernel=3,
                    padding=1,
                    weight=_weights(rng, (out[0], out[0], 3, 3), wb2),
                )
                rows2 = out[0] * 9
            else:
                e2 = Edge(
                    "linear", name, weight_bits=wb2, weight=_weights(rng, (out[0], out[0]), wb2)
                )
                rows2 = out[0]
            cell = f"cell{k}"
            drive2 = max(2, rows2 * (1 if wb2 == 1 else 2 ** (wb2 - 1) - 1) // 6)
            layers.append(
                Layer(cell, (e2, Edge("skip", name)), out, neuron=_neuron(rng, out[0], drive2))
            )
            name = cell
        shape, src, scale = out, name, 1
    n_out = int(rng.integers(2, 6))
    count = rng.random() < 0.4
    wb = int(rng.integers(1, 4))
    n_in = int(np.prod(shape))
    last = Edge("linear", src, weight_bits=wb, weight=_weights(rng, (n_out, n_in), wb))
    layers.append(
        Layer(
            "out",
            (last,),
            (n_out,),
            neuron=_neuron(rng, n_out, max(2, n_in // 4)) if count else None,
            bias=rng.integers(-3, 4, n_out) if rng.random() < 0.5 else None,
        )
    )
    net = Network(
        name=f"random{seed}",
        input=inp,
        layers=tuple(layers),
        timesteps=int(rng.integers(1, 4)),
        output_decoding="count" if count else "membrane",
    ).validate()
    tile_cols = int(rng.choice([8, 16]))
    hw = HardwareConfig(
        tile_rows=int(rng.choice([8, 16, 32])),
        tile_cols=tile_cols,
        cell_bits=int(rng.integers(1, 3)),
        adc_bits=int(rng.integers(3, 7)),
        columns_per_adc=int(rng.choice([1, 2, 4])),
        lif_units=int(rng.integers(1, 6)),
        adc_latency_cycles=int(rng.integers(0, 3)),
        adc_pipelined=bool(rng.integers(0, 2)),
        mask_double_buffer=bool(rng.integers(0, 2)),
        overlap_reads=bool(rng.integers(0, 2)),
        pipeline_layers=bool(rng.integers(0, 2)),
        input_dac_bits=_dac_bits(rng),  # drawn after the others: earlier draws stay the same
        # drawn after those: earlier draws stay the same; 3 leaves most images a partial transfer
        pixels_per_transfer=int(rng.choice([1, 3, 8])),
        stream_while_busy=bool(rng.integers(0, 2)),  # after it, for the same reason
        pipeline_samples=bool(rng.integers(0, 2)),  # drawn last, for the same reason
    )
    return net, hw


def random_images(net: Network, n: int, seed: int) -> np.ndarray:
    """``n`` random images of ``net``'s input shape and bit width."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**net.input.bits, (n, *net.input.shape))


def conv_example(dropout: DropoutSpec | None = None, seed: int = 20) -> Network:
    """A CNN on a (2, 5, 5) input: conv 3x3 padding 1 -> (3, 5, 5), conv 3x3 stride 2 padding 1
    with 3-bit weights and ``dropout`` -> (4, 3, 3), linear -> 5 outputs, T = 2. On 16 x 8 tiles
    its first layer spans two row tiles and its second two row and two column tiles."""
    rng = np.random.default_rng(seed)
    return Network(
        "conv",
        InputSpec((2, 5, 5), bits=3),
        (
            Layer(
                "c1",
                (
                    Edge(
                        "conv2d",
                        "input",
                        kernel=3,
                        padding=1,
                        weight=_weights(rng, (3, 2, 3, 3), 1),
                    ),
                ),
                (3, 5, 5),
                neuron=Neuron(threshold=np.array([4, 6, 5]), leak_shift=2),
            ),
            Layer(
                "c2",
                (
                    Edge(
                        "conv2d",
                        "c1",
                        kernel=3,
                        stride=2,
                        padding=1,
                        weight_bits=3,
                        weight=_weights(rng, (4, 3, 3, 3), 3),
                        dropout=dropout,
                    ),
                ),
                (4, 3, 3),
                neuron=Neuron(threshold=np.array([2, 3, 2, 4])),
                bias=np.array([1, 0, -1, 0]),
            ),
            Layer("fc", (Edge("linear", "c2", weight=_weights(rng, (5, 36), 1)),), (5,)),
        ),
        timesteps=2,
    ).validate()


def cell_example(out_dropout: DropoutSpec | None = None, seed: int = 30) -> Network:
    """A cell on rate-coded input ((1, 3, 4), 4 bits, a 16-bit LFSR): linear 12 (reset to zero)
    -> linear 12 with 2-bit weights, MTJ row dropout on 3 modules, a bias and a skip edge from
    the first layer -> linear 3 with ``out_dropout``, spike-count decoding, T = 3."""
    rng = np.random.default_rng(seed)
    return Network(
        "cell",
        InputSpec((1, 3, 4), bits=4, encoding="rate", lfsr=LFSRSpec(width=16, seed=77)),
        (
            Layer(
                "a",
                (Edge("linear", "input", weight=_weights(rng, (12, 12), 1)),),
                (12,),
                neuron=Neuron(threshold=np.full(12, 2), reset="zero"),
            ),
            Layer(
                "b",
                (
                    Edge(
                        "linear",
                        "a",
                        weight_bits=2,
                        weight=_weights(rng, (12, 12), 2),
                        dropout=DropoutSpec(p=0.4, modules=3),
                    ),
                    Edge("skip", "a"),
                ),
                (12,),
                neuron=Neuron(threshold=np.full(12, 2)),
                bias=rng.integers(-2, 3, 12),
            ),
            Layer(
                "out",
                (Edge("linear", "b", weight=_weights(rng, (3, 12), 1), dropout=out_dropout),),
                (3,),
                neuron=Neuron(threshold=np.full(3, 1)),
            ),
        ),
        timesteps=3,
        output_decoding="count",
    ).validate()


CELL_HW = HardwareConfig(
    lif_units=4,
    tile_rows=8,
    tile_cols=8,
    adc_bits=3,
    columns_per_adc=4,
    adc_latency_cycles=2,
    clock_mhz=400.0,
)
"""The hardware of :func:`cell_example`: 8 x 8 tiles, 2 ADCs of 3 bits each, a 2-cycle ADC."""


CONV_HW = HardwareConfig(lif_units=2, tile_rows=16, tile_cols=8, adc_bits=4, columns_per_adc=4)
"""The hardware of :func:`conv_example`: 16 x 8 tiles with 2 multiplexed ADCs each."""


def example_networks() -> dict[str, tuple[Network, HardwareConfig]]:
    """Hand-made cases: an MLP, a convolutional network and a cell with a skip edge."""
    rng = np.random.default_rng(2026)
    mlp = Network(
        "mlp",
        InputSpec((1, 4, 5), bits=4),
        (
            Layer(
                "fc0",
                (Edge("linear", "input", weight=_weights(rng, (12, 20), 1)),),
                (12,),
                neuron=Neuron(threshold=rng.integers(10, 40, 12), leak_shift=2, membrane_bits=10),
                bias=rng.integers(-3, 4, 12),
            ),
            Layer(
                "fc1",
                (
                    Edge(
                        "linear",
                        "fc0",
                        weight=_weights(rng, (8, 12), 1),
                        dropout=DropoutSpec(p=0.25, modules=4),
                    ),
                ),
                (8,),
                neuron=Neuron(threshold=rng.integers(1, 4, 8), membrane_bits=10),
            ),
            Layer("out", (Edge("linear", "fc1", weight=_weights(rng, (3, 8), 1)),), (3,)),
        ),
        timesteps=3,
    ).validate()
    conv = conv_example(
        DropoutSpec(p=0.3, source="lfsr", modules=2, granularity="channel"), seed=2027
    )
    cell = cell_example(DropoutSpec(p=0.2, source="lfsr", modules=5), seed=2028)
    return {
        "mlp": (mlp, HardwareConfig(lif_units=5, adc_bits=4, tile_rows=16, tile_cols=16)),
        "conv": (conv, CONV_HW),
        "cell": (cell, CELL_HW),
    }


def long_fill_examples() -> dict[str, tuple[Network, HardwareConfig]]:
    """Two cases whose mask fill ``F`` is longer than a sample's compute ``C`` (double-buffered
    masks wait for the fill between samples), with ``hw.mask_double_buffer`` on:

    * ``mtj-long``: the ``mlp`` example with one MTJ module on ``fc1``'s 12 rows, ``T = 1``, at
      1000 MHz (each dropout cycle 17 clocks): ``F = 204 > C = 104``;
    * ``lfsr-long``: a direct-coded (1, 16, 16) input, one LFSR module dropping its 256 pixels
      (``F = 256``), linear 4 neurons -> linear 2, ``T = 2`` (``C = 98``).
    """
    net, hw = example_networks()["mlp"]
    fc1 = net.layers[1]
    one = replace(fc1.edges[0], dropout=DropoutSpec(p=0.25, modules=1))
    mtj = replace(
        net, layers=(net.layers[0], replace(fc1, edges=(one,)), net.layers[2]), timesteps=1
    ).validate()
    rng = np.random.default_rng(2029)
    wide = Network(
        "wide",
        InputSpec((1, 16, 16), bits=2),
        (
            Layer(
                "fc0",
                (
                    Edge(
                        "linear",
                        "input",
                        weight=_weights(rng, (4, 256), 1),
                        dropout=DropoutSpec(p=0.3, source="lfsr", modules=1),
                    ),
                ),
                (4,),
                neuron=Neuron(threshold=rng.integers(2, 8, 4), membrane_bits=12),
            ),
            Layer("out", (Edge("linear", "fc0", weight=_weights(rng, (2, 4), 1)),), (2,)),
        ),
        timesteps=2,
    ).validate()
    wide_hw = HardwareConfig(lif_units=2, adc_bits=5, tile_rows=64, tile_cols=8)
    return {
        "mtj-long": (mtj, replace(hw, clock_mhz=1000.0, mask_double_buffer=True)),
        "lfsr-long": (wide, replace(wide_hw, mask_double_buffer=True)),
    }


def pipeline_examples() -> dict[str, tuple[Network, HardwareConfig]]:
    """Two cases for ``hw.pipeline_layers`` (on) whose consumers are slower than their
    producers, so a producer must wait for its consumers to free a spike bank (condition (c)
    of :mod:`hdl.mapping`), over ``T = 6`` timesteps: a direct 2-bit (1, 4, 4) input, linear
    4 neurons -> linear 16 -> a cell of 16 (linear and skip edge from the 16) -> linear 3
    (``slow-direct``, one LIF unit: the layers of 16 take 16 update cycles per timestep, the
    first 4; the cell reads ``h1``'s bank in its update cycles too, through the skip edge);
    and the same on rate-coded input (``slow-rate``, the encoder taking 16 cycles)."""
    rng = np.random.default_rng(2030)

    def net(name: str, inp: InputSpec) -> Network:
        return Network(
            name,
            inp,
            (
                Layer(
                    "h0",
                    (Edge("linear", "input", weight=_weights(rng, (4, 16), 1)),),
                    (4,),
                    neuron=Neuron(threshold=rng.integers(1, 4, 4), membrane_bits=8),
                ),
                Layer(
                    "h1",
                    (Edge("linear", "h0", weight=_weights(rng, (16, 4), 1)),),
                    (16,),
                    neuron=Neuron(threshold=rng.integers(1, 3, 16), membrane_bits=8),
                ),
                Layer(
                    "cell",
                    (
                        Edge("linear", "h1", weight=_weights(rng, (16, 16), 2), weight_bits=2),
                        Edge("skip", "h1"),
                    ),
                    (16,),
                    neuron=Neuron(threshold=rng.integers(1, 4, 16), membrane_bits=8),
                ),
                Layer("out", (Edge("linear", "cell", weight=_weights(rng, (3, 16), 1)),), (3,)),
            ),
            timesteps=6,
        ).validate()

    direct = net("slow_direct", InputSpec((1, 4, 4), bits=2))
    rate = net(
        "slow_rate", InputSpec((1, 4, 4), bits=2, encoding="rate", lfsr=LFSRSpec(16, seed=9))
    )
    hw = HardwareConfig(lif_units=1, adc_bits=4, tile_rows=16, tile_cols=16, pipeline_layers=True)
    return {"slow-direct": (direct, hw), "slow-rate": (rate, hw)}
