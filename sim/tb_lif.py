"""cocotb testbench of the LIF update unit (:class:`hdl.rtl.LIFUnit`) in Verilog.

Run it through :func:`sim.runner.run_cocotb` with ``params = {"lif": {...the unit's
parameters...}, "vectors": n, "seed": s}``. The bench streams one vector
``(v, s_prev, current, threshold)`` per clock cycle with ``valid`` high, plus random one-cycle
bubbles (``valid`` low), and checks every cycle against :func:`sim.models.lif_step`:

* inputs are driven on the falling edge, the unit registers them on the next rising edge and
  the outputs are sampled on the falling edge after it (latency 1);
* after a vector ``out_valid = 1`` and ``(v_next, spike)`` equal the reference; after a bubble
  ``out_valid = 0`` and the outputs hold their previous values;
* right after reset all outputs are 0.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from sim.models import LIFParams, lif_step
from sim.runner import tb_params

Vector = tuple[int, int, int, int]  # (v, s_prev, current, threshold)


def edge_vectors(p: LIFParams) -> list[Vector]:
    """Both saturation ends, negative membranes, small values around 0 and θ, and v == θ."""
    vs = sorted(
        x
        for x in {p.v_min, p.v_min + 1, -5, -2, -1, 0, 1, 2, p.v_max - 1, p.v_max}
        if p.v_min <= x <= p.v_max
    )
    cs = sorted(x for x in {p.i_min, -1, 0, 1, p.i_max} if p.i_min <= x <= p.i_max)
    ts = sorted({0, 1, p.theta_max // 2, p.theta_max})
    vectors = [(v, s, c, t) for v in vs for s in (0, 1) for c in cs for t in ts]
    # from v = 0 with no spike the leak is 0, so v_next = I: equal to θ (fires), one below
    vectors += [(0, 0, t, t) for t in ts if t <= p.i_max]
    vectors += [(0, 0, t - 1, t) for t in ts if 1 <= t <= p.i_max + 1]
    return vectors


def random_vectors(p: LIFParams, n: int, rng: random.Random) -> list[Vector]:
    return [
        (
            rng.randint(p.v_min, p.v_max),
            rng.randint(0, 1),
            rng.randint(p.i_min, p.i_max),
            rng.randint(0, p.theta_max),
        )
        for _ in range(n)
    ]


def _outputs(dut: Any) -> tuple[int, int, int]:
    return (
        dut.v_next.value.to_signed(),
        int(dut.spike.value),
        int(dut.out_valid.value),
    )


@cocotb.test()
async def lif_matches_reference(dut: Any) -> None:
    """Every output of every cycle equals the reference (module doc)."""
    cfg = tb_params()
    p = LIFParams(**cfg["lif"])
    rng = random.Random(cfg.get("seed", 1))
    vectors = edge_vectors(p) + random_vectors(p, int(cfg.get("vectors", 2000)), rng)
    bubble = float(cfg.get("bubble", 0.1))

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    for port in (dut.v, dut.s_prev, dut.current, dut.threshold, dut.valid):
        port.value = 0
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    assert _outputs(dut) == (0, 0, 0), f"after reset: expected (0, 0, 0), got {_outputs(dut)}"

    expected = (0, 0, 0)
    k = 0
    while k < len(vectors):
        if rng.random() < bubble:  # a cycle without a neuron: outputs hold, out_valid drops
            dut.valid.value = 0
            what = f"bubble before vector {k}"
            expected = (*expected[:2], 0)
        else:
            v, s_prev, current, threshold = vectors[k]
            dut.v.value = v
            dut.s_prev.value = s_prev
            dut.current.value = current
            dut.threshold.value = threshold
            dut.valid.value = 1
            what = f"vector {k} (v={v}, s_prev={s_prev}, current={current}, θ={threshold})"
            expected = (*lif_step(v, s_prev, current, threshold, p), 1)
            k += 1
        await FallingEdge(dut.clk)
        got = _outputs(dut)
        assert got == expected, (
            f"{what}: expected (v_next, spike, out_valid) = {expected}, got {got}"
        )
    dut._log.info("%d vectors checked (%s)", len(vectors), p)
