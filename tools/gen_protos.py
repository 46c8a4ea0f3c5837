"""Regenerate (or check) the Python code of the kubelet gRPC APIs in ``dra_driver/kubeletapi``.

Owns: the one way the committed ``*_pb2.py``, ``*_pb2.pyi``, ``*_pb2_grpc.py`` and the
``__init__.py`` files of ``dra_driver/kubeletapi`` are produced from ``api/proto``. Protoc runs
with ``-I api/proto`` on every ``*.proto`` below it, so the generated imports are
``dra_driver.kubeletapi...`` with no post-processing. The output is deterministic: a second run
gives byte-identical files.

Usage::

    python tools/gen_protos.py           # rewrite dra_driver/kubeletapi
    python tools/gen_protos.py --check   # exit 1 and name the stale files if they differ

It needs the pinned generator (``grpcio-tools==1.71.0``, the ``dev`` extra): its gencode 5.29.0
imports on protobuf 5.29 up to 7.x. It must never touch files outside ``dra_driver/kubeletapi``.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = Path("api") / "proto"
PACKAGE = Path("dra_driver") / "kubeletapi"
REQUIRED_PROTOC = "libprotoc 29.0"

# Suffixes of the files this script produces; only such files are ever deleted when stale.
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "__init__.py")

PACKAGE_DOCSTRING = '''"""Python code generated from hdra's copies of the kubelet gRPC APIs (``api/proto``).

Owns nothing hand-written: every file below this package is produced by ``tools/gen_protos.py``
(protoc from the pinned ``grpcio-tools``) and must never be edited by hand. Subpackages:
``dra.v1`` and ``dra.v1beta1`` (the DRA node service), ``pluginregistration.v1`` (the kubelet
plugin registration API) and ``drahealth.v1alpha1`` (the DRA resource health stream).
"""
'''

SUBPACKAGE_DOCSTRING = (
    '"""Generated package for ``{protos}``; produced by tools/gen_protos.py, never edit by hand."""\n'
)


def _proto_files(proto_root: Path) -> list[Path]:
    """Every proto below ``proto_root``, relative to it, in a stable order."""
    files = sorted(path.relative_to(proto_root) for path in proto_root.rglob("*.proto"))
    if not files:
        raise SystemExit(f"no .proto files found under {proto_root}")
    outside = [str(path) for path in files if not path.is_relative_to(PACKAGE)]
    if outside:
        raise SystemExit(f"proto files outside {PACKAGE} under {proto_root}: {', '.join(outside)}")
    return files


def _check_generator() -> None:
    if importlib.util.find_spec("grpc_tools") is None:
        raise SystemExit("grpc_tools is not importable: install the dev extra (grpcio-tools==1.71.0)")
    version = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if version != REQUIRED_PROTOC:
        raise SystemExit(
            f"grpc_tools bundles {version!r}, expected {REQUIRED_PROTOC!r}: install grpcio-tools==1.71.0"
        )


def _write_init_files(out: Path, protos: list[Path]) -> None:
    """Create the package ``__init__.py`` files protoc does not generate."""
    (out / PACKAGE / "__init__.py").write_text(PACKAGE_DOCSTRING)
    below: dict[Path, list[str]] = {}
    for proto in protos:
        for parent in proto.parents:
            if parent != PACKAGE and parent.is_relative_to(PACKAGE):
                below.setdefault(parent, []).append(proto.as_posix())
    for package_dir, names in sorted(below.items()):
        text = SUBPACKAGE_DOCSTRING.format(protos="``, ``".join(f"api/proto/{name}" for name in names))
        (out / package_dir / "__init__.py").write_text(text)


def generate(out: Path, root: Path = ROOT) -> None:
    """Generate the whole ``dra_driver/kubeletapi`` tree from ``root/api/proto`` into ``out``."""
    proto_root = root / PROTO_DIR
    protos = _proto_files(proto_root)
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{proto_root}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            *(proto.as_posix() for proto in protos),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"protoc failed (exit {result.returncode}): {result.stderr.strip()}")
    _write_init_files(out, protos)


def _tree(base: Path) -> dict[Path, bytes]:
    """The files below ``base/PACKAGE`` (relative to ``base``), without bytecode caches."""
    root = base / PACKAGE
    if not root.is_dir():
        return {}
    return {
        path.relative_to(base): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def _differences(fresh: dict[Path, bytes], committed: dict[Path, bytes]) -> list[str]:
    lines: list[str] = []
    for path in sorted(fresh.keys() | committed.keys()):
        if path not in committed:
            lines.append(f"missing: {path}")
        elif path not in fresh:
            lines.append(f"not generated from any proto: {path}")
        elif fresh[path] != committed[path]:
            changed = sum(
                1
                for line in difflib.unified_diff(
                    committed[path].decode(errors="replace").splitlines(),
                    fresh[path].decode(errors="replace").splitlines(),
                    lineterm="",
                    n=0,
                )
                if line[:1] in "+-" and not line.startswith(("+++", "---"))
            )
            lines.append(f"stale: {path} ({changed} changed lines)")
    return lines


def _sync(root: Path, fresh: dict[Path, bytes], committed: dict[Path, bytes]) -> list[str]:
    """Make ``root/PACKAGE`` equal to the fresh tree; return what changed."""
    changed: list[str] = []
    for path, content in fresh.items():
        if committed.get(path) != content:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            changed.append(f"wrote {path}")
    for path in committed.keys() - fresh.keys():
        if path.name.endswith(GENERATED_SUFFIXES):
            (root / path).unlink()
            changed.append(f"removed {path}")
    # Directories left empty by removed protos go too (bytecode caches do not count as content).
    for directory in sorted((root / PACKAGE).rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and directory.name != "__pycache__" and not any(directory.iterdir()):
            directory.rmdir()
    return changed


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    """Regenerate ``root/dra_driver/kubeletapi`` from ``root/api/proto`` (or only compare, with --check)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temp dir and exit 1 if the committed code differs",
    )
    args = parser.parse_args(argv)
    _check_generator()
    committed = _tree(root)
    with tempfile.TemporaryDirectory(prefix="hdra-protos-") as tmp:
        generate(Path(tmp), root)
        fresh = _tree(Path(tmp))
        if args.check:
            problems = _differences(fresh, committed)
            if problems:
                print(f"{len(problems)} generated file(s) in {PACKAGE} are out of date:", file=sys.stderr)
                for line in problems:
                    print(f"  {line}", file=sys.stderr)
                print("run: python tools/gen_protos.py", file=sys.stderr)
                return 1
            print(f"{PACKAGE}: {len(fresh)} generated files are up to date")
            return 0
        changes = _sync(root, fresh, committed)
    for line in changes:
        print(line)
    print(f"{PACKAGE}: {len(fresh)} generated files, {len(changes)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
