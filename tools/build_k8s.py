"""Build (or find in the cache) ``hdra-k8s``, the real control plane the realcluster tests run,
or another command of ``tools/k8s`` (``--command peer-driver``, the prepare benchmark's Go peer;
``--command alloc-oracle``, the simulator tests' upstream allocator).

Usage::

    python tools/build_k8s.py            # build unless cached; print the binary's path
    python tools/build_k8s.py --key      # print only the cache key of the current sources
    python tools/build_k8s.py --command peer-driver

The binary lives outside the work tree, at ``$HDRA_CACHE_DIR/k8s/<key>/<command>`` (default
``~/.cache/hdra``), keyed by sha256 over ``tools/k8s``'s go.mod, go.sum and ``cmd/<command>``: a
second run with the same sources is a no-op. A failed build leaves its output in
``<key>/build-error.log``, which the realcluster tests quote when they fail. Exit 1 with a one-line
``build_k8s: <cause>`` on failure. The rules (flags, key, cache) are ``dra_driver.realcluster.binary``'s.
"""

from __future__ import annotations

import argparse
import sys

from dra_driver.realcluster import binary
from dra_driver.realcluster.errors import RealClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="build a tools/k8s command (default hdra-k8s) into the cache"
    )
    parser.add_argument("--key", action="store_true", help="print the cache key and exit")
    parser.add_argument("--command", default=binary.BINARY_NAME, choices=binary.COMMANDS)
    args = parser.parse_args(argv)
    try:
        if args.key:
            print(binary.source_key(binary.default_module_dir(), args.command))
            return 0
        result = binary.build(command=args.command)
    except RealClusterError as exc:
        print(f"build_k8s: {exc}", file=sys.stderr)
        return 1
    if result.built:
        print(f"built {result.binary} in {result.seconds:.0f} s", file=sys.stderr)
    else:
        print(f"cached {result.binary}", file=sys.stderr)
    print(result.binary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
