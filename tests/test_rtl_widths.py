"""Register widths of the generated RTL follow one rule: hdl.mapping's bounds.

The widths of the current registers (``current_l<i>_<o>`` in the Verilog) and of the ``counts``
outputs must equal :func:`hdl.mapping.current_bits` / :func:`hdl.mapping.output_bits`, and
the bounds they come from are checked against the golden model: no current it computes on
random inputs exceeds :func:`hdl.mapping.current_bound`, and a network driven to its extreme
(every weight ``+w_max``, every bias at its largest, every pixel at full scale) reaches it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from hdl.golden import run
from hdl.hwconfig import HardwareConfig
from hdl.ir import Network
from hdl.mapping import current_bits, current_bound, map_network, output_bits, signed_bits
from hdl.rtl.accelerator import accelerator_verilog
from sim.netgen import example_networks, random_images, random_network

SEEDS = range(16)


def _wire_bits(verilog: str, name: str) -> int:
    """Width of wire or register ``name`` in the Verilog text (1 for a scalar)."""
    pattern = rf"^\s*(?:wire|reg)\s+(?:signed\s+)?(?:\[(\d+):0\]\s+)?{name}\b"
    match = re.search(pattern, verilog, re.M)
    assert match is not None, f"{name} is not declared"
    return 1 if match.group(1) is None else int(match.group(1)) + 1


def _cases() -> list[tuple[str, Network, HardwareConfig]]:
    out = [(name, net, hw) for name, (net, hw) in sorted(example_networks().items())]
    out += [(f"seed{s}", *random_network(s)) for s in SEEDS]
    return out


CASES = _cases()


@pytest.mark.parametrize(("name", "net", "hw"), CASES, ids=[c[0] for c in CASES])
def test_rtl_widths_are_the_mappings(name: str, net: Network, hw: HardwareConfig) -> None:
    mapping = map_network(net, hw)
    verilog = accelerator_verilog(net, hw)
    for li, layer in enumerate(mapping.layers):
        assert _wire_bits(verilog, f"current_l{li}_0") == current_bits(layer, mapping), layer.name
    assert _wire_bits(verilog, "y0") == output_bits(mapping)


@pytest.mark.parametrize(("name", "net", "hw"), CASES, ids=[c[0] for c in CASES])
def test_current_bound_holds_in_the_golden_model(
    name: str, net: Network, hw: HardwareConfig
) -> None:
    mapping = map_network(net, hw)
    x = random_images(net, 8, 7)
    currents = run(net, x, hw, samples=2, mtj_seed=3, trace=True).currents
    for layer in mapping.layers:
        bound = current_bound(layer, mapping)
        largest = int(np.abs(currents[layer.name]).max())
        assert largest <= bound, (layer.name, largest, bound)
        bits = current_bits(layer, mapping)
        # the fewest two's-complement bits holding -bound .. bound
        assert -(2 ** (bits - 1)) <= -bound and bound <= 2 ** (bits - 1) - 1
        assert not (-(2 ** (bits - 2)) <= -bound and bound <= 2 ** (bits - 2) - 1)


def _extreme(net: Network) -> Network:
    """``net`` with every weight at ``+w_max``, every bias at ``+max|bias|``, no dropout."""
    layers = []
    for layer in net.layers:
        edges = []
        for e in layer.edges:
            if e.weighted:
                top = 1 if e.weight_bits == 1 else 2 ** (e.weight_bits - 1) - 1
                e = replace(e, weight=np.full(e.weight_shape, top), dropout=None)
            edges.append(e)
        bias = layer.bias
        if bias is not None:
            bias = np.full(bias.shape, int(np.abs(bias).max()))
        layers.append(replace(layer, edges=tuple(edges), bias=bias))
    return replace(net, layers=tuple(layers)).validate()


def _full_windows(net: Network) -> bool:
    """True when every weighted edge of the first layer has an output position whose window
    lies wholly inside the input (a linear edge, or a convolution without padding)."""
    return all(e.kind == "linear" or e.padding == 0 for e in net.layers[0].edges if e.weighted)


EXTREME = [c for c in CASES if c[1].input.encoding == "direct" and _full_windows(c[1])]


@pytest.mark.parametrize(("name", "net", "hw"), EXTREME, ids=[c[0] for c in EXTREME])
def test_current_bound_is_reached(name: str, net: Network, hw: HardwareConfig) -> None:
    net = _extreme(net)
    mapping = map_network(net, hw)
    x = np.full((1, *net.input.shape), 2**net.input.bits - 1, dtype=np.int64)
    first = mapping.layers[0]
    current = run(net, x, hw, trace=True).currents[first.name]
    assert int(current.max()) == current_bound(first, mapping)


def test_signed_bits_by_hand() -> None:
    assert [signed_bits(b) for b in (0, 1, 2, 3, 4, 127, 128)] == [1, 2, 3, 3, 4, 8, 9]
    with pytest.raises(ValueError, match="bound"):
        signed_bits(-1)
