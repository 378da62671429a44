"""The root of neurocim's own errors.

Every error that a user's input can cause (a bad config key, a network the hardware cannot hold,
a file that is not what it should be) derives from :class:`NeurocimError` as well as from the
standard base that says what kind of failure it is (``ValueError`` for bad input,
``RuntimeError`` for a tool or a simulation that failed). The command line catches this one class
and prints its message as one line; library users can catch either base.
"""

from __future__ import annotations

__all__ = ["NeurocimError"]


class NeurocimError(Exception):
    """Base of every neurocim error; its message names the problem and the fix."""
