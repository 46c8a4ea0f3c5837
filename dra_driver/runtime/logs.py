"""Logging like a Kubernetes component: structured key=value text by default, JSON on request.

Owns: ``configure`` (one handler on the root logger; ``text`` or ``json``; verbosity ``-v N`` as in
klog: 0-3 info, 4 and above debug), the structured fields every line may carry (``FIELDS``), where
they come from, and both formats.

Fields, in this order of precedence (later wins): the process's own (``set_process_fields``: the
node plugin sets ``node`` and ``driver`` once), the current context (``log_fields(claim=...)``, a
context variable, so it holds for everything one gRPC worker logs while it prepares one claim),
and ``extra={...}`` of the call itself. Only ``FIELDS`` are written, always in that order.

Text (klog's header, then the quoted message and the fields)::

    I1204 17:15:04.143210 hdra.agent] "serving /var/lib/kubelet/plugins/x/dra.sock" node="n1" driver="x"

JSON (one object per line, klog's keys)::

    {"ts": 1733332504.143, "level": "info", "logger": "hdra.agent", "msg": "...", "v": 0, "node": "n1"}

Logger names are ``hdra.<package>`` (``hdra.prepare``, ``hdra.plugin``, ...), one per package of
``dra_driver``; a test keeps them so.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, TextIO

FIELDS = ("node", "driver", "pool", "device", "claim", "uid", "request", "loop")
FORMATS = ("text", "json")
DEBUG_VERBOSITY = 4  # klog: V(4) and above is debug detail

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "hdra_log_fields", default=MappingProxyType({})
)
_process: dict[str, str] = {}


def set_process_fields(**fields: str) -> None:
    """Fields every line of this process carries (e.g. the node plugin's ``node`` and ``driver``)."""
    _process.update({key: value for key, value in fields.items() if key in FIELDS})


@contextmanager
def log_fields(**fields: str) -> Iterator[None]:
    """Add ``fields`` to every line logged in this context (this thread or task, until exit)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if k in FIELDS}})
    try:
        yield
    finally:
        _context.reset(token)


def _with_context(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.hdra_fields = {**_process, **_context.get()}  # as of the call, in the caller's thread
        return record

    make.hdra_context = True  # type: ignore[attr-defined]
    return make


def install_record_factory() -> None:
    """Make every ``LogRecord`` capture the process and context fields when it is created (done on
    import; idempotent). Formatting may happen later or elsewhere (a handler's thread, caplog)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "hdra_context", False):
        logging.setLogRecordFactory(_with_context(factory))


install_record_factory()


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The structured fields of ``record``, in ``FIELDS`` order."""
    captured = record.__dict__.get("hdra_fields")
    merged = dict(captured) if isinstance(captured, dict) else {**_process, **_context.get()}
    for key in FIELDS:
        value = record.__dict__.get(key)
        if value is not None:
            merged[key] = str(value)
    return {key: merged[key] for key in FIELDS if key in merged}


def level_for(verbosity: int) -> int:
    return logging.DEBUG if verbosity >= DEBUG_VERBOSITY else logging.INFO


def _verbosity(record: logging.LogRecord) -> int:
    return DEBUG_VERBOSITY if record.levelno < logging.INFO else 0


def _error_text(record: logging.LogRecord) -> str | None:
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        return f"{type(error).__name__}: {error}"
    return None


class TextFormatter(logging.Formatter):
    """klog header + ``"message" key="value" ...``; a traceback, when logged, follows on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        letter = {logging.WARNING: "W", logging.ERROR: "E", logging.CRITICAL: "F"}.get(record.levelno, "I")
        stamp = time.strftime("%m%d %H:%M:%S", time.localtime(record.created))
        micros = int((record.created % 1) * 1_000_000)
        message = json.dumps(record.getMessage(), ensure_ascii=False)
        parts = [f"{letter}{stamp}.{micros:06d} {record.name}] {message}"]
        parts += [
            f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in record_fields(record).items()
        ]
        error = _error_text(record)
        if error is not None:
            parts.append(f"err={json.dumps(error, ensure_ascii=False)}")
        line = " ".join(parts)
        if (
            record.exc_info
            and record.levelno >= logging.ERROR
            and logging.getLogger().isEnabledFor(logging.DEBUG)
        ):
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line with klog's keys (``ts``, ``msg``, ``v``) plus level and logger."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "v": _verbosity(record),
        }
        entry.update(record_fields(record))
        error = _error_text(record)
        if error is not None:
            entry["err"] = error
        return json.dumps(entry, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when it was configured: a
    thread that logs after ``sys.stderr`` was replaced (and the old stream closed, as a test
    harness's capture is) still reaches a live stream."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def configure(fmt: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one writing ``fmt`` lines at ``level`` to ``stream``
    (default: the current ``sys.stderr`` at each record)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r} is not one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
