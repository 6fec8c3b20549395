"""The single place the version lives (read by hatchling and by ``peppolnet --version``)."""

__version__ = "0.1.0"
