"""The one check of an integer parameter, shared by the IR, the mapping, the golden model, the
RTL generators and the behavioural models.

Each caller names the parameter as its user sees it (``layer 'h'.edges[0].kernel``,
``LIF current_bits``) and passes its own error class, so a message always reads
``<name> must be an integer in <lo>..<hi>, got <value>``.
"""

from __future__ import annotations

import numbers

__all__ = ["check_int"]


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def check_int(
    value: object,
    name: str,
    lo: int | None = None,
    hi: int | None = None,
    *,
    error: type[Exception] = ValueError,
    fix: str = "",
) -> int:
    """``value`` as a Python ``int`` if it is an integer (Python or numpy; ``bool`` is not) in
    ``lo .. hi`` (either bound may be ``None``); else ``error`` naming ``name``, the range and
    the value, followed by ``fix`` when given."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok:
        value = int(value)  # type: ignore[arg-type]
        ok = (lo is None or value >= lo) and (hi is None or value <= hi)
    if not ok:
        tail = f"; {fix}" if fix else ""
        raise error(f"{name} must be an integer{_range(lo, hi)}, got {value!r}{tail}")
    return value  # type: ignore[return-value]
