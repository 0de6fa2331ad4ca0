# syntax=docker/dockerfile:1
# acm-sync operator image.
#   docker build -t acm-sync:0.1.0 .
# The builder stage installs the hash-pinned runtime dependencies (requirements.lock, generated
# from the tested virtual environment) and the project itself, built with the hash-pinned
# setuptools of build-requirements.lock, into /opt/venv; the runtime stage copies only that
# venv. Both stages use the same base so the venv's interpreter path and ABI match.
#
# The base is pinned by patch version and by the digest of its multi-platform index, so a
# rebuild gets the same bytes until the pin is changed on purpose. Python 3.11 is supported
# until October 2027 and is what Debian bookworm ships. To update: take the digest of the
# newest python:3.11.N-slim-bookworm (docker buildx imagetools inspect
# python:3.11-slim-bookworm, or docker-library/repo-info's
# repos/python/remote/3.11-slim-bookworm.md), set both the tag and the digest here, rebuild
# and run the tests against the image.
ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
# --require-hashes: a file whose bytes differ from the ones hashed in the lock is refused, even
# when its name and version match. The build backend comes from a hashed lock of its own:
# pip's build isolation would fetch whatever setuptools is newest at build time. It leaves the
# venv again once the project is built.
COPY requirements.lock build-requirements.lock ./
RUN /opt/venv/bin/pip install --no-deps --require-virtualenv --require-hashes -r requirements.lock \
    && /opt/venv/bin/pip install --no-deps --require-virtualenv --require-hashes \
        -r build-requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
# --no-deps: every dependency came from the locks above; nothing unpinned sneaks in here.
RUN /opt/venv/bin/pip install --no-deps --require-virtualenv --no-build-isolation . \
    && /opt/venv/bin/pip uninstall --yes --require-virtualenv setuptools \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="acm-sync" \
      org.opencontainers.image.description="Kubernetes operator that keeps TLS Secrets imported into AWS Certificate Manager in every region, under stable ARNs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/acm-sync/acm-sync" \
      org.opencontainers.image.vendor="acm-sync developers"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=builder /opt/venv /opt/venv
# A fixed numeric non-root UID/GID, so that runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
EXPOSE 8080
# Exec form: no shell is involved in starting (or signalling) the operator.
ENTRYPOINT ["/opt/venv/bin/acm-sync", "run"]
