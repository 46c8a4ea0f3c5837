"""The one error type of the CDI package.

Owns: ``CdiError``. Every failure in ``dra_driver.cdi`` (a bad name, a bad spec, a file that cannot
be written or read) is raised as ``CdiError`` with a message that names the field, value or path.
It must never carry partial results.
"""

from __future__ import annotations


class CdiError(ValueError):
    """A CDI name, spec or spec file is invalid or could not be written; the message names the cause."""
