"""Hardware configuration of a neurocim accelerator: crossbar tiles, cells, ADCs, LIF units, clock.

These are the knobs of the chip, separate from the network (IR) it runs. Units in the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from hdl.checks import check_int
from hdl.errors import NeurocimError

__all__ = ["HardwareConfig", "HardwareError"]


class HardwareError(NeurocimError, ValueError):
    """An invalid hardware configuration; the message names the field and the allowed range."""


@dataclass(frozen=True)
class HardwareConfig:
    """The accelerator's physical parameters.

    Attributes:
        tile_rows: word lines (rows) of one crossbar tile, R.
        tile_cols: bit lines (columns) of one crossbar tile.
        cell_bits: bits stored per crossbar cell; weights are bit-sliced across columns.
        adc_bits: ADC resolution; a column sum saturates at ``2**adc_bits - 1``.
        columns_per_adc: columns multiplexed onto one ADC (converted one after another).
        lif_units: parallel LIF update units, time-multiplexed over the neurons.
        clock_mhz: clock frequency of the digital logic [MHz].
        adc_latency_cycles: cycles from the read strobe to a valid ADC code.
    """

    tile_rows: int = 128
    tile_cols: int = 128
    cell_bits: int = 1
    adc_bits: int = 8
    columns_per_adc: int = 8
    lif_units: int = 16
    clock_mhz: float = 200.0
    adc_latency_cycles: int = 1

    def __post_init__(self) -> None:
        limits = {
            "tile_rows": (1, 4096),
            "tile_cols": (1, 4096),
            "cell_bits": (1, 8),
            "adc_bits": (1, 16),
            "columns_per_adc": (1, 4096),
            "lif_units": (1, 4096),
            "adc_latency_cycles": (0, 64),
        }
        for name, (lo, hi) in limits.items():
            value = check_int(getattr(self, name), f"hardware.{name}", lo, hi, error=HardwareError)
            object.__setattr__(self, name, value)
        if self.tile_cols % self.columns_per_adc:
            raise HardwareError(
                f"hardware.columns_per_adc ({self.columns_per_adc}) must divide "
                f"hardware.tile_cols ({self.tile_cols})"
            )
        if not isinstance(self.clock_mhz, (int, float)) or not self.clock_mhz > 0:
            raise HardwareError(f"hardware.clock_mhz must be > 0, got {self.clock_mhz!r}")

    @property
    def adc_max(self) -> int:
        """Largest ADC code: ``2**adc_bits - 1``."""
        return 2**self.adc_bits - 1

    @property
    def adcs_per_tile(self) -> int:
        """ADCs of one tile, ``tile_cols / columns_per_adc`` (it divides, see above)."""
        return self.tile_cols // self.columns_per_adc
