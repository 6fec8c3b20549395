"""peppolnet's loggers: silent until the application configures logging.

Python hands a record that finds no handler to its "last resort" handler, which prints warnings
to stderr: every ``unknown`` verdict of a bulk run would appear on the terminal of an
application (or of ``peppolnet check``) that never asked for logs. A library gives its package
logger a ``NullHandler`` (the logging HOWTO's advice); it is added here, where the loggers are
made, rather than in ``peppolnet/__init__``, so that ``import peppolnet`` does not pay for the
logging module. Records still propagate to whatever the application configures.
"""

from __future__ import annotations

import logging

__all__ = ["logger"]

logging.getLogger("peppolnet").addHandler(logging.NullHandler())


def logger(name: str) -> logging.Logger:
    """The logger ``name`` (under ``peppolnet.``), with the package kept quiet by default."""
    return logging.getLogger(name)
