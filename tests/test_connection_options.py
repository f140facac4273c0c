"""Connecting to a Temporal cluster or Temporal Cloud (TLS, mTLS, API key) and OpenTelemetry
tracing through Temporal's interceptor (off by default)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core import tracing
from core.temporal_tls import TemporalTlsError, tls_and_api_key

# --- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pem:
    cert: bytes
    key: bytes


def _issue(name: str, issuer: Pem | None = None, *, ca: bool = False, server: bool = False) -> Pem:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    if issuer is None:
        issuer_name, signing_key = subject, key
    else:
        issuer_cert = x509.load_pem_x509_certificate(issuer.cert)
        issuer_name = issuer_cert.subject
        signing_key = serialization.load_pem_private_key(issuer.key, None)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    cert = builder.sign(signing_key, hashes.SHA256())  # type: ignore[arg-type]
    return Pem(
        cert=cert.public_bytes(serialization.Encoding.PEM),
        key=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for `temporal.test` and a client certificate, as files."""
    folder = tmp_path_factory.mktemp("pki")
    ca = _issue("sagsflow test CA", ca=True)
    files = {
        "ca": ca.cert,
        "server.pem": (server := _issue("temporal.test", ca, server=True)).cert,
        "server.key": server.key,
        "client.pem": (client := _issue("sagsflow-worker", ca)).cert,
        "client.key": client.key,
    }
    paths = {}
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content)
        paths[name] = path
    return paths


# --- tls_and_api_key --------------------------------------------------------------------------


def test_nothing_set_is_a_plain_connection() -> None:
    assert tls_and_api_key({}) == {}
    assert tls_and_api_key({"TEMPORAL_TLS": "", "TEMPORAL_API_KEY": "  "}) == {}


def test_an_api_key_turns_tls_on_with_the_system_roots() -> None:
    assert tls_and_api_key({"TEMPORAL_API_KEY": "secret-key"}) == {
        "tls": True,
        "api_key": "secret-key",
    }
    # A TLS-terminating proxy on the same host: the key without TLS, said explicitly.
    assert tls_and_api_key({"TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "false"}) == {
        "tls": False,
        "api_key": "k",
    }
    assert tls_and_api_key({"TEMPORAL_TLS": "true"}) == {"tls": True}


def test_client_certificates_from_files_or_inline(pki: dict[str, Path]) -> None:
    from_files = tls_and_api_key(
        {
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["client.pem"]),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki["client.key"]),
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki["ca"]),
            "TEMPORAL_TLS_SERVER_NAME": "temporal.test",
        }
    )
    assert from_files == {
        "tls": TLSConfig(
            server_root_ca_cert=pki["ca"].read_bytes(),
            domain="temporal.test",
            client_cert=pki["client.pem"].read_bytes(),
            client_private_key=pki["client.key"].read_bytes(),
        )
    }
    inline = tls_and_api_key(
        {
            "TEMPORAL_TLS_CLIENT_CERT_DATA": pki["client.pem"].read_text(),
            "TEMPORAL_TLS_CLIENT_KEY_DATA": pki["client.key"].read_text(),
        }
    )
    tls = inline["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == pki["client.pem"].read_bytes().strip()
    assert tls.server_root_ca_cert is None  # the system's roots (Temporal Cloud)


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"TEMPORAL_TLS": "maybe"}, "TEMPORAL_TLS must be true or false"),
        ({"TEMPORAL_TLS_CLIENT_CERT_PATH": "{client}"}, "go together"),
        ({"TEMPORAL_TLS_CLIENT_KEY_DATA": "-----BEGIN"}, "go together"),
        ({"TEMPORAL_TLS": "false", "TEMPORAL_TLS_SERVER_CA_CERT_PATH": "{ca}"}, "contradicts"),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/no/such/ca.pem"},
            "TEMPORAL_TLS_SERVER_CA_CERT_PATH /no/such/ca.pem: cannot be read",
        ),
        (
            {"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "{ca}", "TEMPORAL_TLS_SERVER_CA_CERT_DATA": "x"},
            "not both",
        ),
    ],
)
def test_bad_settings_name_their_variable(
    environ: dict[str, str], message: str, pki: dict[str, Path]
) -> None:
    files = {"{ca}": str(pki["ca"]), "{client}": str(pki["client.pem"])}
    filled = {name: files.get(value, value) for name, value in environ.items()}
    with pytest.raises(TemporalTlsError, match=message.replace("(", r"\(")):
        tls_and_api_key(filled)


@contextlib.asynccontextmanager
async def mtls_proxy(target: str, pki: dict[str, Path]) -> AsyncIterator[int]:
    """A TLS front for a plain Temporal frontend that demands a client certificate of our CA,
    as a cluster's frontend with `requireClientAuth` does. Yields its port."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
    context.load_cert_chain(pki["server.pem"], pki["server.key"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = target.rsplit(":", 1)
    accepted: list[str] = []

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def serve(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        peer = client_writer.get_extra_info("peercert") or {}
        accepted.append(dict(x[0] for x in peer.get("subject", ()))["commonName"])
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(
            relay(client_reader, upstream_writer), relay(upstream_reader, client_writer)
        )

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
    assert accepted and set(accepted) == {"sagsflow-worker"}


async def test_mtls_settings_connect_through_a_frontend_that_demands_client_certificates(
    env: WorkflowEnvironment, pki: dict[str, Path]
) -> None:
    target = env.client.service_client.config.target_host
    async with mtls_proxy(target, pki) as port:
        options = tls_and_api_key(
            {
                "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki["client.pem"]),
                "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki["client.key"]),
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki["ca"]),
                "TEMPORAL_TLS_SERVER_NAME": "temporal.test",
            }
        )
        client = await Client.connect(
            f"127.0.0.1:{port}", namespace=env.client.namespace, **options
        )
        assert await client.service_client.check_health()
        # Without the client certificate the frontend refuses the connection.
        without = tls_and_api_key(
            {
                "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki["ca"]),
                "TEMPORAL_TLS_SERVER_NAME": "temporal.test",
            }
        )
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(
                Client.connect(f"127.0.0.1:{port}", namespace=env.client.namespace, **without),
                timeout=20,
            )


async def test_an_api_key_reaches_the_server_as_a_bearer_token(env: WorkflowEnvironment) -> None:
    options = tls_and_api_key({"TEMPORAL_API_KEY": "sagsflow-test-key", "TEMPORAL_TLS": "false"})
    client = await Client.connect(
        env.client.service_client.config.target_host, namespace=env.client.namespace, **options
    )
    assert client.api_key == "sagsflow-test-key"
    assert await client.service_client.check_health()


# --- tracing ---------------------------------------------------------------------------------


@activity.defn(name="tracing_probe_step")
async def tracing_probe_step(text: str) -> str:
    return text.upper()


@workflow.defn(name="TracingProbe", sandboxed=False)
class TracingProbe:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            tracing_probe_step, text, start_to_close_timeout=timedelta(seconds=10)
        )


@pytest.fixture
def fresh_tracer() -> Iterator[None]:
    tracing._tracer = None
    yield
    tracing._tracer = None


def test_tracing_is_off_by_default(fresh_tracer: None) -> None:
    assert tracing.tracing_interceptors({}) == []
    assert tracing.tracing_interceptors({"SAGSFLOW_OTEL_ENABLED": "false"}) == []
    assert tracing._tracer is None  # nothing was set up
    with pytest.raises(ValueError, match="SAGSFLOW_OTEL_ENABLED"):
        tracing.tracing_interceptors({"SAGSFLOW_OTEL_ENABLED": "perhaps"})


def test_enabled_tracing_exports_over_otlp_by_default(fresh_tracer: None) -> None:
    from temporalio.contrib.opentelemetry import TracingInterceptor

    interceptors = tracing.tracing_interceptors(
        {"SAGSFLOW_OTEL_ENABLED": "true", "OTEL_SERVICE_NAME": "sagsflow-worker"}
    )
    assert [type(i) for i in interceptors] == [TracingInterceptor]
    again = tracing.tracing_interceptors({"SAGSFLOW_OTEL_ENABLED": "1"})
    assert again[0].tracer is interceptors[0].tracer  # one provider per process
    resource = interceptors[0].tracer.resource  # type: ignore[attr-defined]
    assert resource.attributes["service.name"] == "sagsflow-worker"


async def test_enabled_tracing_spans_client_workflow_and_activity(
    env: WorkflowEnvironment, task_queue: str, fresh_tracer: None
) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exported = InMemorySpanExporter()
    interceptors = tracing.tracing_interceptors(
        {"SAGSFLOW_OTEL_ENABLED": "true"}, exporter=exported
    )
    client = Client(**{**env.client.config(), "interceptors": interceptors})
    async with Worker(
        client, task_queue=task_queue, workflows=[TracingProbe], activities=[tracing_probe_step]
    ):
        result = await client.execute_workflow(
            TracingProbe.run, "hej", id=f"case-T-{uuid.uuid4().hex[:8]}", task_queue=task_queue
        )
    assert result == "HEJ"
    spans = exported.get_finished_spans()
    names = {span.name for span in spans}
    assert {
        "StartWorkflow:TracingProbe",
        "RunWorkflow:TracingProbe",
        "StartActivity:tracing_probe_step",
        "RunActivity:tracing_probe_step",
    } <= names
    assert len({span.context.trace_id for span in spans}) == 1  # one trace, end to end
    attributes = " ".join(str(dict(span.attributes or {})) for span in spans)
    assert "hej" not in attributes.lower()  # payloads are never span attributes


# --- the SDK runtime: core logs through Python logging ------------------------------------------


async def test_sdk_core_warnings_reach_python_logging_not_raw_stderr(
    env: WorkflowEnvironment, task_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    from core.telemetry import CORE_LOGGER, sdk_runtime

    runtime = sdk_runtime(None)
    assert sdk_runtime(None) is runtime  # one per process and metrics address
    client = await Client.connect(
        env.client.service_client.config.target_host,
        namespace=env.client.namespace,
        runtime=runtime,
    )
    with caplog.at_level(logging.WARNING, logger=CORE_LOGGER):
        # The time-skipping server lacks a capability the core warns about at worker start.
        async with Worker(
            client, task_queue=task_queue, workflows=[TracingProbe], activities=[tracing_probe_step]
        ):
            for _ in range(50):
                if any(r.name.startswith(CORE_LOGGER) for r in caplog.records):
                    break
                await asyncio.sleep(0.1)
    forwarded = [r for r in caplog.records if r.name.startswith(CORE_LOGGER)]
    assert forwarded and all(r.levelno >= logging.WARNING for r in forwarded)
