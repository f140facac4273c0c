"""The Temporal client as every sagsflow process makes it: one place for the data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from workers.settings import Settings


async def connect_client(settings: Settings) -> Client:
    runtime = None
    if settings.metrics_address:
        metrics = PrometheusConfig(bind_address=settings.metrics_address)
        runtime = Runtime(telemetry=TelemetryConfig(metrics=metrics))
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
