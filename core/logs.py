"""structlog setup: readable console lines in development, one JSON object a line in production.

Standard-library loggers (Temporal SDK, Alembic, SQLAlchemy) go through the same processors,
so every line has the same shape and passes the same personal-data filter.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor

# Log lines must carry ids, never personal data. Code should never log such keys; this
# filter is the safety net for the day someone does. Keys are split into words (snake_case,
# camelCase) so `namespace` stays while `name`, `child_navn`, `firstName`, `email` go.
PERSONAL_WORD = re.compile(r"(name|navn)$|mail|phone|telefon|^tlf$|^mobil", re.IGNORECASE)
KEY_WORDS = re.compile(r"[^A-Za-z]+|(?<=[a-z])(?=[A-Z])")


def is_personal_key(key: str) -> bool:
    return any(PERSONAL_WORD.search(word) for word in KEY_WORDS.split(key) if word)


def drop_personal_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in [key for key in event_dict if is_personal_key(key)]:
        del event_dict[key]
    return event_dict


def configure_logging(log_format: str = "console", level: str | int = "INFO") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_personal_fields,
    ]
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if log_format == "json"
        # plain_traceback: the SDK logs workflow-task failures from inside the workflow
        # sandbox, where rich's pretty tracebacks cannot import and would hide the real error.
        else [structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)]
    )
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached, so a later configure() (tests, the CLI) still takes effect everywhere.
        cache_logger_on_first_use=False,
    )
    handler = _SagsflowHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    # Replace only what an earlier call installed: handlers of the host (pytest) stay.
    for earlier in [h for h in root.handlers if isinstance(h, _SagsflowHandler)]:
        root.removeHandler(earlier)
    root.addHandler(handler)
    root.setLevel(level)


class _SagsflowHandler(logging.StreamHandler):
    """The handler configure_logging installs, recognisable when it is called again.

    It writes to whatever sys.stderr is at the moment of logging, not at set-up: a host that
    swaps stderr (pytest's capture, a CLI runner) then never leaves it writing to a closed file.
    """

    @property
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass
