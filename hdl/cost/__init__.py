"""Cost model of a neurocim accelerator: memory, area, latency and energy of one inference.

``estimate(net, hw, preset, samples)`` prices a network (weights are not needed) in closed form,
fast enough to run inside an architecture search (tens of microseconds). Two presets:

* ``default`` (:mod:`hdl.cost.default`): the architecture neurocim generates. Latency is the
  image's ``pixels`` transfers plus the schedule of :mod:`hdl.mapping` to the cycle (the RTL
  accepts the image while idle, then is busy for exactly the schedule's cycles); energy is the
  schedule's event counts times energies per event from :class:`ComponentLibrary`, plus the
  input transfers, plus the MTJ dropout cycles priced by :func:`hdl.mtj.dropout_cycle_energy`,
  plus static (leakage) energy over the latency.
* ``spikesim`` (:mod:`hdl.cost.spikesim`): SpikeSim's published energy / latency / area model
  (Moitra et al., TCAD 2023), with its known defects fixed; ``reproduce_defects=True`` follows
  the released script line by line.

The package: :mod:`hdl.cost.constants` (every constant, a :class:`Constant` with its unit and
source), :mod:`hdl.cost.memory` (memory, both presets), the two presets, and
:mod:`hdl.cost.report` (:class:`CostReport`, built once here). docs/cost-model.md writes out
every formula.

Units: energy pJ (totals also in uJ), area um^2 (totals in mm^2), time in clock cycles and s.
"""

from __future__ import annotations

from hdl.cost.constants import (
    ADCTech,
    ComponentLibrary,
    Constant,
    CrossbarTech,
    DigitalTech,
    DropoutTech,
    SpikeSimLibrary,
    StaticTech,
    lfsr_xor_gates,
)
from hdl.cost.default import price_default
from hdl.cost.errors import CostError, SpikeSimRefusal
from hdl.cost.memory import memory
from hdl.cost.report import CostReport, LayerCost, PresetCost
from hdl.cost.spikesim import price_spikesim
from hdl.hwconfig import HardwareConfig, HardwareError
from hdl.ir import Network
from hdl.mapping import MTJDriver, map_network, schedule_mapping

__all__ = [
    "PRESETS",
    "ADCTech",
    "ComponentLibrary",
    "Constant",
    "CostError",
    "CostReport",
    "CrossbarTech",
    "DigitalTech",
    "DropoutTech",
    "LayerCost",
    "SpikeSimLibrary",
    "SpikeSimRefusal",
    "StaticTech",
    "estimate",
    "lfsr_xor_gates",
]

PRESETS = ("default", "spikesim")

_DEFAULT_LIBRARY = ComponentLibrary()
_DEFAULT_SPIKESIM = SpikeSimLibrary()


def estimate(
    net: Network,
    hw: HardwareConfig | None = None,
    preset: str = "default",
    samples: int = 1,
    *,
    library: ComponentLibrary | SpikeSimLibrary | None = None,
    driver: MTJDriver | None = None,
    reproduce_defects: bool = False,
) -> CostReport:
    """Price one inference (``samples`` Monte-Carlo samples) of ``net`` on ``hw``.

    Args:
        net: a validated network; an architecture without weights is enough.
        hw: the hardware configuration (default ``HardwareConfig()``).
        preset: ``default`` (neurocim's architecture, latency = input transfers + the
            schedule) or ``spikesim``
            (SpikeSim's published model with its defects fixed; it uses its own constants in
            :class:`SpikeSimLibrary` and not ``hw``'s tiles or clock).
        samples: Monte-Carlo samples per inference, >= 1.
        library: the constants (:class:`ComponentLibrary` for ``default``,
            :class:`SpikeSimLibrary` for ``spikesim``); default: the documented ones.
        driver: the MTJ dropout drive sequence; default: the network's, else ``MTJDriver()``
            (:func:`hdl.driver.driver_for`).
        reproduce_defects: ``spikesim`` only: reproduce the released script's behaviour.

    Raises:
        HardwareError: ``hw`` is not a valid :class:`~hdl.hwconfig.HardwareConfig`.
        CostError: unknown preset or wrong library type; :class:`SpikeSimRefusal` when
            ``reproduce_defects`` and the released script would refuse the network.
    """
    hw = HardwareConfig() if hw is None else hw
    if not isinstance(hw, HardwareConfig):
        raise HardwareError(f"hardware must be an hdl.hwconfig.HardwareConfig, got {hw!r}")
    if preset not in PRESETS:
        raise CostError(f"preset must be one of {list(PRESETS)}, got {preset!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise CostError(f"samples must be an integer >= 1, got {samples!r}")
    mapping = map_network(net, hw, driver)
    mem = memory(mapping)
    cost: PresetCost
    lib: ComponentLibrary | SpikeSimLibrary
    if preset == "default":
        lib = _DEFAULT_LIBRARY if library is None else library
        if not isinstance(lib, ComponentLibrary):
            raise CostError(f"preset 'default' needs a ComponentLibrary, got {type(lib).__name__}")
        if reproduce_defects:
            raise CostError("reproduce_defects applies to preset 'spikesim' only")
        cost = price_default(mapping, schedule_mapping(mapping, samples), lib, mem)
    else:
        lib = _DEFAULT_SPIKESIM if library is None else library
        if not isinstance(lib, SpikeSimLibrary):
            raise CostError(f"preset 'spikesim' needs a SpikeSimLibrary, got {type(lib).__name__}")
        cost = price_spikesim(mapping, samples, lib, bool(reproduce_defects), mem)
    return CostReport(
        network=mapping.network,
        preset=preset,
        samples=samples,
        timesteps=mapping.timesteps,
        clock_mhz=cost.clock_mhz,
        cycles=cost.cycles,
        seconds=cost.seconds,
        energy_pj=cost.energy_pj,
        area_um2=cost.area_um2,
        memory_bits=mem.bits,
        events=cost.events,
        layers=cost.layers,
        hardware=hw,
        mtj_driver=mapping.driver,
        library=lib,
        notes=cost.notes,
        options={"reproduce_defects": bool(reproduce_defects)},
    )
