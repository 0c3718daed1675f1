"""How `parley serve` writes its log to stderr: access lines and errors, as `key=value` text
or one JSON object a line (`[logging] format`). An access record arrives as the `access`
attribute of a log record (see routes/access.py); anything else is a plain message, with its
traceback when it has one."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value: Any) -> str:
    """A value that a `key=value` reader splits on spaces safely: `-` for none, JSON for text
    with spaces or quotes and for anything structured."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value if value and not any(c in value for c in ' "=\\\n') else json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            pairs = " ".join(f"{key}={_text(value)}" for key, value in access.items())
            return f"{_time(record)} access {pairs}"
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            return json.dumps({"time": _time(record), "type": "access", **access})
        line: dict[str, Any] = {
            "time": _time(record),
            "type": "log",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(form: Literal["text", "json"], level: str) -> None:
    """Parley's loggers write to stderr through one handler; uvicorn keeps its own."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    parley = logging.getLogger("parley")
    parley.handlers[:] = [handler]
    parley.setLevel(level)
    parley.propagate = False
