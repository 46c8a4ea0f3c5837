"""``CommandError``: the one error every sub-command raises to stop with a one-line message.

Owns only the exception, so that ``hdra`` (``cli.main``) can catch it without importing the
API client and the device backends that ``cli.common`` needs: ``hdra --help`` loads no sub-command.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command cannot go on; the message says why and is printed as ``hdra: <message>``."""
