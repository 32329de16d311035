"""prodcat: a product categorizer trained, tracked, registered and served by a DVC pipeline."""

__version__ = "0.1.0"
