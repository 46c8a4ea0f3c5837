"""The ``cel`` package (the Rust CEL engine of common-expression-language) without its own CLI.

Owns: putting ``cel`` into ``sys.modules`` without running its ``__init__``. That ``__init__`` runs
``from . import cli, stdlib`` and ``from .cel import *``, and ``cel.cli`` imports typer, rich,
prompt_toolkit and pygments for the package's interactive shell, which hdra never uses: about a
tenth of ``hdra demo``'s wall time (issue 17 item 6). Here the package module is created from its
own spec, the native module ``cel.cel`` and ``cel.stdlib`` are imported as ordinary submodules, and
the native module's public names (its ``__all__``) are copied onto the package, as the star import
would.

Contracts:
* After this module is imported, ``import cel`` anywhere returns a package with the same public
  names as the real one except ``cli``; ``import cel.cli`` still works (a normal submodule import).
* A ``cel`` already in ``sys.modules`` (imported the usual way before) is left as it is.
* If loading fails, nothing half-made stays in ``sys.modules``: the import error propagates.
Use ``from dra_driver.runtime.cel_loader import cel`` (or ``stdlib``) instead of ``import cel``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

_PACKAGE = "cel"


def _load_without_cli() -> None:
    if _PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ModuleNotFoundError(f"No module named {_PACKAGE!r}", name=_PACKAGE)
    package = importlib.util.module_from_spec(spec)  # attributes and __path__ set, __init__ not run
    sys.modules[_PACKAGE] = package
    try:
        native = importlib.import_module(f"{_PACKAGE}.cel")
        importlib.import_module(f"{_PACKAGE}.stdlib")  # binds itself as the package's ``stdlib``
    except BaseException:
        for name in (f"{_PACKAGE}.stdlib", f"{_PACKAGE}.cel", _PACKAGE):
            sys.modules.pop(name, None)
        raise
    for name in native.__all__:
        setattr(package, name, getattr(native, name))


_load_without_cli()

import cel  # noqa: E402 - after the loader above, this is the package without its CLI
from cel import stdlib  # noqa: E402

__all__ = ["cel", "stdlib"]
