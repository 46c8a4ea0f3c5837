"""The ``hdra`` command line: argument parsing and wiring of the lower layers, nothing more.

Each sub-command lives in its own module with a ``add_parser`` and a ``run`` function. Modules here
may import every other package of hdra; nothing may import ``dra_driver.cli``.
"""
