# syntax=docker/dockerfile:1
# The dcp worker image: `dcp-worker` with the AWS backend, and headless CellProfiler
# (and `dcp-watch`, which AUTO_MONITOR's Fargate task runs with the entry point `dcp-watch`)
# installed by the project's own script. ECS runs it with the settings in DCP_SETTINGS
# (written by `dcp-fleet setup`) and credentials from the task role; nothing else is needed.
#
#   docker build -t ACCOUNT.dkr.ecr.REGION.amazonaws.com/dcp-worker:VERSION .
#
# Without a registry, scripts/build-image builds it with podman from a Debian base made by
# mmdebstrap (RUNTIME_BASE) and `dcp-worker` and `dcp-watch` built on the host, handed in as the build
# context `worker`, which takes the place of the stage of that name.
ARG BUILD_BASE=docker.io/library/rust:1.95-bookworm
# Python 3.11 (the pinned CellProfiler wheels need it) with its venv module, on bookworm.
ARG RUNTIME_BASE=docker.io/library/python:3.11-slim-bookworm

# Stage 1: the worker, built from the locked sources.
FROM ${BUILD_BASE} AS worker
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dcp-worker -p dcp-watch \
    --features dcp-worker/aws,dcp-watch/aws \
 && strip --strip-debug -o /dcp-worker target/release/dcp-worker \
 && strip --strip-debug -o /dcp-watch target/release/dcp-watch

# Stage 2: CellProfiler, then the worker (which changes more often) on top.
FROM ${RUNTIME_BASE}
ENV DCP_CACHE=/opt/dcp
COPY scripts/install-cellprofiler /opt/dcp/install-cellprofiler
RUN --mount=type=cache,target=/root/.cache/pip \
    ln -s "$(/opt/dcp/install-cellprofiler)" /usr/local/bin/cellprofiler
COPY --from=worker /dcp-worker /dcp-watch /usr/local/bin/
RUN useradd --create-home --uid 1000 dcp
USER dcp
WORKDIR /home/dcp
ENTRYPOINT ["dcp-worker"]
