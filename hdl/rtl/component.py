"""Components whose parameters are checked before the component exists.

Amaranth warns about every ``Elaboratable`` that is created and never elaborated. A generator
that refuses its parameters in ``__init__`` has already been created by then, so the refusal
would leave such a component behind. :class:`CheckedComponent` runs the subclass's
``_check`` (a pure function of the constructor's arguments that raises on a bad parameter and
returns the checked values) in ``__new__``, before the object exists, and gives the values to
the new object as attributes; ``__init__`` then only builds the ports.
"""

from __future__ import annotations

from typing import Any

from amaranth.lib import wiring

__all__ = ["CheckedComponent"]


class CheckedComponent(wiring.Component):
    """A :class:`amaranth.lib.wiring.Component` checked before it exists (see the module doc).

    Subclasses define ``_check(cls, *args, **kwargs) -> dict[str, Any]`` taking the
    constructor's arguments; its result becomes the new object's attributes.
    """

    @classmethod
    def _check(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError(f"{cls.__name__} must define _check")

    def __new__(cls, *args: Any, src_loc_at: int = 0, **kwargs: Any) -> Any:
        checked = cls._check(*args, **kwargs)  # raises before the component exists
        self = super().__new__(cls, src_loc_at=1 + src_loc_at)
        self.__dict__.update(checked)
        return self
