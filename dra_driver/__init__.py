"""hdra: a Kubernetes Dynamic Resource Allocation driver for shared accelerators.

The public surface of the package is the ``hdra`` command (``dra_driver.cli``). Sub-packages are
layered (DESIGN.md section 3, enforced by import-linter): ``cli`` on top; ``controller`` and
``devcluster`` next; ``slices`` below them; ``devices`` and ``kube`` at the bottom.
"""

__version__ = "0.1.0"
