"""The serial schedule of the first generator, for tests that compute cycles by hand.

``HardwareConfig()`` is the fast schedule (pipelined ADCs, double-buffered masks, overlapped
reads, pipelined layers); the tests
that check a formula written for the serial schedule, or an option against it, start here.
"""

from __future__ import annotations

from typing import Any

from hdl.hwconfig import HardwareConfig


def serial_hw(**fields: Any) -> HardwareConfig:
    """``HardwareConfig(**fields)`` with every schedule option off unless ``fields`` sets it."""
    serial = {
        "adc_pipelined": False,
        "mask_double_buffer": False,
        "overlap_reads": False,
        "pipeline_layers": False,
        "pipeline_samples": False,
    }
    return HardwareConfig(**{**serial, **fields})
