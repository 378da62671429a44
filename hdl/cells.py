"""The cell values the crossbar macros are programmed with (docs/hardware-model.md section 5).

One weighted edge with ``C_out`` outputs and ``rows`` inputs (``in_features``, or ``C_in·k·k``
in ``(c, ky, kx)`` order) is written as ``W⁺ = max(W, 0)`` and ``W⁻ = max(-W, 0)``, each cut
into ``slices`` digits of ``cell_bits`` bits, least significant first::

    cell[r, (o·2 + pol)·slices + j] = (W^pol[o, r] >> (j·cell_bits)) & (2**cell_bits - 1)

Row tile ``t`` holds rows ``t·R .. t·R + R - 1`` (``R = tile_rows``, rows past the end 0);
column tile ``u`` holds columns ``u·C .. u·C + C - 1`` (``C = tile_cols``). This is the one
definition: the RTL's macro contents (:func:`hdl.rtl.plan.tile_cells`), the behavioural crossbar
model and the golden model's crossbar sums all read it.
"""

from __future__ import annotations

import numpy as np

from hdl.errors import NeurocimError
from hdl.geometry import ceil_div, slices
from hdl.hwconfig import HardwareConfig
from hdl.ir import Edge

__all__ = ["CellError", "crossbar_cells"]


class CellError(NeurocimError, ValueError):
    """Cells asked of an edge that has none (no crossbar, or no weights)."""


def crossbar_cells(edge: Edge, hw: HardwareConfig) -> np.ndarray:
    """int64 ``(row_tiles, tile_rows, phys_cols)``: the cells of a validated weighted ``edge``.

    Raises:
        CellError: the edge is not weighted, or has no weights (an architecture).
    """
    if not edge.weighted:
        raise CellError(f"a {edge.kind} edge has no crossbar cells")
    if edge.weight is None:
        raise CellError("crossbar cells need the edge's weights (a trained network)")
    c_out = edge.weight.shape[0]
    w = edge.weight.reshape(c_out, -1).astype(np.int64)  # (C_out, rows), (c, ky, kx) order
    rows = w.shape[1]
    n_slices = slices(edge.weight_bits, hw.cell_bits)
    mags = np.stack([np.maximum(w, 0), np.maximum(-w, 0)], axis=1)  # (C_out, 2, rows)
    shifts = np.arange(n_slices, dtype=np.int64) * hw.cell_bits
    digits = (mags[:, :, None, :] >> shifts[None, None, :, None]) & (2**hw.cell_bits - 1)
    phys_cols = 2 * n_slices * c_out
    row_tiles = ceil_div(rows, hw.tile_rows)
    out = np.zeros((row_tiles * hw.tile_rows, phys_cols), dtype=np.int64)
    out[:rows] = digits.reshape(phys_cols, rows).T
    return out.reshape(row_tiles, hw.tile_rows, phys_cols)
