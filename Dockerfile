# syntax=docker/dockerfile:1
# The dcp worker image: `dcp-worker` with the AWS backend, and headless CellProfiler
# (and `dcp-watch`, which AUTO_MONITOR's Fargate task runs with the entry point `dcp-watch`)
# installed by the project's own script. ECS runs it with the settings in DCP_SETTINGS
# (written by `dcp-fleet setup`) and credentials from the task role; nothing else is needed.
#
#   docker build -t ACCOUNT.dkr.ecr.REGION.amazonaws.com/dcp-worker:VERSION .
#
# Stage 1: the worker, built from the locked sources.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p dcp-worker -p dcp-watch \
    --features dcp-worker/aws,dcp-watch/aws \
 && cp target/release/dcp-worker target/release/dcp-watch /

# Stage 2: Python 3.11 (the pinned CellProfiler wheels need it) and the worker.
FROM python:3.11-slim-bookworm
ENV DCP_CACHE=/opt/dcp
COPY scripts/install-cellprofiler /opt/dcp/install-cellprofiler
RUN ln -s "$(/opt/dcp/install-cellprofiler)" /usr/local/bin/cellprofiler \
 && rm -rf /root/.cache/pip
COPY --from=build /dcp-worker /dcp-watch /usr/local/bin/
RUN useradd --create-home --uid 1000 dcp
USER dcp
WORKDIR /home/dcp
ENTRYPOINT ["dcp-worker"]
