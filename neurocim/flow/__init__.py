"""The steps of the neurocim flow, one module each, usable from Python.

- :mod:`neurocim.flow.common`: what the steps share (``FlowError``, the ``INCOMPLETE`` marker,
  default directories, the network digest, progress reports).
- :mod:`neurocim.flow.export`: ``neurocim export``, a trained run's network exported and checked.
- :mod:`neurocim.flow.estimate`: ``neurocim estimate``, the cost of one inference.
- :mod:`neurocim.flow.rtl`: ``neurocim rtl``, the RTL bundle written (and read back).
- :mod:`neurocim.flow.images`: the test images ``neurocim sim`` runs.
- :mod:`neurocim.flow.sim`: ``neurocim sim``, test images through the RTL against the golden
  model.

Nothing is imported here: each step imports only what it needs.
"""
