"""Worker configuration, read from the environment (twelve-factor style)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from store import DEFAULT_DATABASE_URL

LogFormat = Literal["console", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# The environment variable behind each setting.
ENVIRONMENT_VARIABLES = {
    "temporal_address": "TEMPORAL_ADDRESS",
    "temporal_namespace": "TEMPORAL_NAMESPACE",
    "task_queue": "SAGSFLOW_TASK_QUEUE",
    "database_url": "DATABASE_URL",
    "log_format": "SAGSFLOW_LOG_FORMAT",
    "log_level": "SAGSFLOW_LOG_LEVEL",
    "metrics_address": "SAGSFLOW_METRICS_ADDRESS",
    "cached_cases": "SAGSFLOW_CACHED_CASES",
}


@dataclass(frozen=True)
class Settings:
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "sagsflow-cases"
    database_url: str = DEFAULT_DATABASE_URL
    log_format: LogFormat = "console"
    log_level: str = "INFO"
    # host:port for a Prometheus scrape endpoint of the SDK's metrics; empty: no endpoint.
    metrics_address: str | None = None
    # How many cases the worker keeps in memory between their steps. A case waits days for
    # staff, so holding every open case costs memory for nothing: one outside the cache is
    # replayed from its short history (~100 events) when its next step comes, in milliseconds.
    cached_cases: int = 250

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ValueError(
                f"SAGSFLOW_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, "
                f"not {self.log_format!r}"
            )
        level = self.log_level.upper()
        if level not in LOG_LEVELS:
            raise ValueError(
                f"SAGSFLOW_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}"
            )
        object.__setattr__(self, "log_level", level)
        try:
            cached = int(self.cached_cases)
        except (TypeError, ValueError):
            cached = 0
        if cached < 1:
            raise ValueError(
                f"SAGSFLOW_CACHED_CASES must be a whole number of at least 1, "
                f"not {self.cached_cases!r}"
            )
        object.__setattr__(self, "cached_cases", cached)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[variable]
            for field, variable in ENVIRONMENT_VARIABLES.items()
            if environ.get(variable, "").strip()
        }
        if "log_format" in values:
            values["log_format"] = cast(LogFormat, values["log_format"].strip().lower())
        return cls(**values)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given values; None means "keep" (an option left out on the CLI)."""
        return dataclasses.replace(
            self, **{name: value for name, value in changes.items() if value is not None}
        )
