"""Scene sources: the embedded simulator (sim/) and adapters for other data."""
