"""The neurocim command line and end-to-end flow (nothing imports this package)."""
