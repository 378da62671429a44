"""Hardware-aware spiking architecture search on CIM crossbars (after NeuroNAS); not built yet."""
