# firstresponder: one process, non-root, read-only friendly.
#
#   docker build -t firstresponder .
#   docker run -p 9095:9095 -v $PWD/deploy:/etc/firstresponder:ro \
#     -v firstresponder-data:/var/lib/firstresponder firstresponder
#
# /etc/firstresponder holds config.yaml and its rules/ (mounted; the chart uses a
# ConfigMap); config.yaml must listen on 0.0.0.0:9095 and keep a SQLite store under
# /var/lib/firstresponder (sqlite:////var/lib/firstresponder/firstresponder.db).
# For reproducible builds pin both FROM lines to the same digest (python:3.11-slim@sha256:...):
# the venv is copied between them and must find the same interpreter at the same path.

# ---- builder: build the wheel and install it with its dependencies into a venv ----------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Every dependency ships manylinux wheels for amd64 and arm64, so no compiler is needed
# here either; should one ever be, install it in this stage only.
RUN python -m venv /opt/venv

WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# pip compiles the bytecode here: the root filesystem is read-only at run time.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && /opt/venv/bin/pip install /wheels/*.whl \
 && /opt/venv/bin/pip uninstall --yes pip setuptools

# ---- runtime: the slim base, the venv, nothing else ---------------------------------------
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="firstresponder" \
      org.opencontainers.image.description="Turns Prometheus/Alertmanager alerts into well-run incidents." \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed UID/GID (10001) so Kubernetes' runAsUser/fsGroup and volume ownership match.
RUN groupadd --system --gid 10001 firstresponder \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/firstresponder --shell /usr/sbin/nologin firstresponder \
 && mkdir -p /etc/firstresponder /var/lib/firstresponder \
 && chown 10001:10001 /var/lib/firstresponder

COPY --from=builder /opt/venv /opt/venv

WORKDIR /var/lib/firstresponder
USER 10001:10001

EXPOSE 9095
VOLUME /var/lib/firstresponder

# No curl in the slim image: Python's urllib asks /healthz (non-2xx raises, exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9095/healthz', timeout=4)"]

# SIGTERM stops listening, finishes in-flight requests and closes the store.
STOPSIGNAL SIGTERM
ENTRYPOINT ["firstresponder"]
CMD ["serve", "--config", "/etc/firstresponder/config.yaml"]
