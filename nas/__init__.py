"""Hardware-aware spiking architecture search on CIM crossbars (after NeuroNAS).

* :mod:`nas.cell`, :mod:`nas.space`: SNASNet's cell space and the macro network, every
  candidate an :class:`hdl.ir.Network` without weights;
* :mod:`nas.budget`: memory, area, latency and energy budgets with units;
* :mod:`nas.search`: the constraint-first search on Optuna (``neurocim search``), with
  :mod:`nas.evaluate`, :mod:`nas.sampler`, :mod:`nas.storage`, :mod:`nas.report`,
  :mod:`nas.plots` and :mod:`nas.config`;
* :mod:`nas.score`, :mod:`nas.scoring`: the training-free scores.

docs/nas.md describes them. The package imports nothing on its own (Optuna and torch load
with the modules that need them).
"""
