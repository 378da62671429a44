"""Memory of a mapped network, the same for both presets (docs/cost-model.md section 3).

Bits by kind: ``weights`` (the weight values), ``crossbar`` (cells provided x ``cell_bits``),
``parameters`` (thresholds and biases) and the state kinds of :data:`STATE_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdl.mapping import Mapping, current_bits, output_bits

__all__ = ["STATE_KINDS", "Memory", "memory"]

STATE_KINDS = ("membranes", "spikes", "input", "partial_sums", "output", "masks")
"""The memory kinds that hold state during an inference (their sum is the state total)."""


@dataclass(frozen=True)
class Memory:
    """Memory of a mapped network [bit].

    Attributes:
        bits: bits by kind, in the order ``weights, crossbar, parameters, *STATE_KINDS``.
        layer_weight_bits: per layer (``Mapping.layers`` order), bits of its weight values.
        layer_state_bits: per layer, bits of its state (membranes, spikes, partial sums, its
            masks, and the output counters for the last layer).
        current_bits: per layer, the width ``w_l`` of its current register
            (:func:`hdl.mapping.current_bits`, the RTL's rule).
    """

    bits: dict[str, int]
    layer_weight_bits: tuple[int, ...]
    layer_state_bits: tuple[int, ...]
    current_bits: tuple[int, ...]


def memory(mapping: Mapping) -> Memory:
    """Memory by kind and per layer [bit] (docs/cost-model.md section 3).

    With ``N_l`` neurons, ``C_l`` channels, membrane width ``mb_l`` and the current register's
    width ``w_l = hdl.mapping.current_bits`` (the signed width of the largest ``|I|``, the rule
    the RTL sizes the register with): parameters ``2 C_l mb_l`` per layer with neurons
    (threshold, bias), ``C_l w_l`` for the output accumulator's bias; membranes ``N_l mb_l``;
    spikes ``N_l``; partial sums ``C_l w_l`` per layer with weighted edges; output
    ``N_out * hdl.mapping.output_bits`` (the RTL's ``counts`` port: ``signed_bits(T * |I|max)``
    for a membrane output, ``bit_length(T)`` for spike counts); input ``C H W bits`` (+ ``C H W``
    spike map for rate coding); masks the dropout units.
    """
    hw = mapping.hw
    bits = dict.fromkeys(("weights", "crossbar", "parameters", *STATE_KINDS), 0)
    weights: list[int] = []
    states: list[int] = []
    widths: list[int] = []
    last = len(mapping.layers) - 1
    for i, layer in enumerate(mapping.layers):
        acc = current_bits(layer, mapping)
        widths.append(acc)
        w = sum(e.weights * e.weight_bits for e in layer.edges)
        cells = sum(e.tiles for e in layer.edges) * hw.tile_rows * hw.tile_cols * hw.cell_bits
        state = 0
        if layer.has_neurons:
            bits["parameters"] += 2 * layer.channels * layer.membrane_bits  # threshold, bias
            state += layer.neurons * layer.membrane_bits + layer.neurons  # membranes, spikes
            bits["membranes"] += layer.neurons * layer.membrane_bits
            bits["spikes"] += layer.neurons
        else:
            bits["parameters"] += layer.channels * acc  # bias
        if layer.edges:
            state += layer.channels * acc
            bits["partial_sums"] += layer.channels * acc
        if i == last:
            out = layer.neurons * output_bits(mapping)
            state += out
            bits["output"] += out
        masks = sum(e.dropout.units for e in layer.edges if e.dropout is not None)
        state += masks
        bits["masks"] += masks
        bits["weights"] += w
        bits["crossbar"] += cells
        weights.append(w)
        states.append(state)
    n_in = mapping.input_neurons
    bits["input"] = n_in * mapping.input_bits + (n_in if mapping.encoding == "rate" else 0)
    return Memory(bits, tuple(weights), tuple(states), tuple(widths))
