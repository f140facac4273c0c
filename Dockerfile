# syntax=docker/dockerfile:1
#
# The sagsflow image. One image, two processes:
#   docker run IMAGE worker      (the default)      docker run IMAGE api
# Configuration is the environment only (docs/configuration.md). The base image is pinned by
# version; bump it on purpose (tests/test_container_entrypoints.py checks the pin).

FROM python:3.12.12-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The build context is filtered by .dockerignore: no .venv, data, tests or .env.
COPY . .
# A wheel first, then a clean venv from it: the image holds exactly what `pip install` gives,
# the same way tests/test_container_entrypoints.py installs and runs it.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/sagsflow \
 && /opt/sagsflow/bin/pip install "$(ls /wheels/sagsflow-*.whl)[tracing]"

FROM python:3.12.12-slim-bookworm
LABEL org.opencontainers.image.title="sagsflow" \
      org.opencontainers.image.description="Digital violations among school students: the action card as durable Temporal workflows (worker and HTTP API)."
RUN groupadd --system --gid 10001 sagsflow \
 && useradd --system --uid 10001 --gid sagsflow --home-dir /var/lib/sagsflow \
      --create-home --shell /usr/sbin/nologin sagsflow
COPY --from=build /opt/sagsflow /opt/sagsflow
ENV PATH="/opt/sagsflow/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SAGSFLOW_LOG_FORMAT=json \
    SAGSFLOW_API_HOST=0.0.0.0
WORKDIR /var/lib/sagsflow
# Numeric, so orchestrators can verify "not root" without reading /etc/passwd.
USER 10001:10001
# 8000: the HTTP API (and /codec, /metrics); 9464: the worker's Prometheus endpoint.
EXPOSE 8000 9464
ENTRYPOINT ["sagsflow"]
CMD ["worker"]
