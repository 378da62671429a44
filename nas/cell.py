"""SNASNet's cell: 4 nodes, 6 forward edges, one operation per edge, in canonical form.

Node 0 is the layer feeding the cell, nodes 1 and 2 are intermediate, node 3 is the output;
node ``i`` sums the currents of its edges ``j -> i`` (``j < i``)::

    x1 = e01(x0),  x2 = e02(x0) + e12(x1),  x3 = e03(x0) + e13(x1) + e23(x2)

Edges are listed in :data:`EDGES` order ``(0->1, 0->2, 1->2, 0->3, 1->3, 2->3)``, each one of
:data:`OPS`. In neurocim every node 1..3 is a layer of LIF neurons (docs/nas.md gives the IR
of each operation), so two cells compute the same function exactly when they are the same
graph after pruning, up to relabelling nodes 1 and 2 when no edge joins them.

Backward (temporal) edges of SNASNet's backward variant are not supported: the IR is
feed-forward within a timestep and has no recurrent edge (a layer reads only earlier layers'
spikes of the same timestep), and the RTL schedule follows that order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from nas.errors import NASError

__all__ = ["EDGES", "OPS", "Cell", "enumerate_cells"]

OPS: tuple[str, ...] = ("zero", "skip", "conv1x1", "conv3x3", "avgpool3x3")
"""The operations of an edge, in SNASNet's numbering (0 zero ... 4 avgpool3x3)."""

EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""The cell's forward edges ``(source, target)`` in genotype order."""

_RANK = {op: i for i, op in enumerate(OPS)}
# genotype positions after swapping nodes 1 and 2 (valid when the edge 1->2 is zero):
# 0->1 <-> 0->2, 1->3 <-> 2->3
_SWAP = (1, 0, 2, 3, 5, 4)


def check_ops(ops: tuple[str, ...], where: str = "ops") -> tuple[str, ...]:
    """``ops`` as a tuple of known, distinct operations in :data:`OPS` order, with at least one
    operation other than ``zero`` (else no cell has an input->output path)."""
    ops = tuple(ops)
    unknown = [op for op in ops if op not in OPS]
    if unknown:
        raise NASError(f"{where} holds unknown operations {unknown}; known: {list(OPS)}")
    if len(set(ops)) != len(ops):
        raise NASError(f"{where} lists an operation twice: {list(ops)}")
    if not any(op != "zero" for op in ops):
        raise NASError(f"{where} needs an operation other than 'zero', got {list(ops)}")
    return tuple(op for op in OPS if op in ops)


@dataclass(frozen=True)
class Cell:
    """A cell genotype: the operation of each edge in :data:`EDGES` order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        ops = tuple(self.ops)
        if len(ops) != len(EDGES):
            raise NASError(f"a cell has {len(EDGES)} edges {EDGES}, got {len(ops)} operations")
        check = [op for op in ops if op not in OPS]
        if check:
            raise NASError(f"cell operations {check} are unknown; known: {list(OPS)}")
        object.__setattr__(self, "ops", ops)

    def op(self, source: int, target: int) -> str:
        return self.ops[EDGES.index((source, target))]

    def live_nodes(self) -> tuple[int, ...]:
        """Nodes on a non-zero path from node 0 to node 3 (empty when there is none)."""
        succ = {
            n: [t for (s, t), op in zip(EDGES, self.ops, strict=True) if s == n and op != "zero"]
            for n in range(4)
        }
        forward = {0}
        for n in range(4):  # edges go to higher nodes: one pass in node order suffices
            if n in forward:
                forward.update(succ[n])
        backward = {3}
        for n in (2, 1, 0):
            if any(t in backward for t in succ[n]):
                backward.add(n)
        live = forward & backward
        return tuple(sorted(live)) if 3 in live else ()

    @property
    def valid(self) -> bool:
        """True when a path of non-zero edges leads from node 0 to node 3."""
        return bool(self.live_nodes())

    def pruned(self) -> Cell:
        """The same cell with every edge touching a node off all 0 -> 3 paths set to zero
        (such a node's spikes never reach the output, or it never receives a current)."""
        live = set(self.live_nodes())
        return Cell(
            tuple(
                op if s in live and t in live else "zero"
                for (s, t), op in zip(EDGES, self.ops, strict=True)
            )
        )

    def canonical(self) -> Cell:
        """The representative of the cell's equivalence class: pruned, and of the two
        labellings of nodes 1 and 2 (when no edge joins them) the one whose genotype comes
        last in :data:`OPS` order (so a single live intermediate node is node 1). Equivalent
        cells have equal canonical forms."""
        cell = self.pruned()
        if cell.ops[2] != "zero":
            return cell
        swapped = tuple(cell.ops[i] for i in _SWAP)
        rank = [_RANK[op] for op in cell.ops]
        return Cell(swapped) if [_RANK[op] for op in swapped] > rank else cell

    @property
    def key(self) -> str:
        """The genotype as text: the six operations joined by ``-`` in :data:`EDGES` order."""
        return "-".join(self.ops)

    @classmethod
    def from_key(cls, key: str) -> Cell:
        return cls(tuple(key.split("-")))


def enumerate_cells(ops: tuple[str, ...] = OPS) -> tuple[Cell, ...]:
    """Every distinct valid cell over ``ops`` (canonical forms, sorted by genotype)."""
    ops = check_ops(ops)
    seen = {Cell(g).canonical() for g in itertools.product(ops, repeat=len(EDGES))}
    valid = [c for c in seen if c.valid]
    return tuple(sorted(valid, key=lambda c: [_RANK[op] for op in c.ops]))
