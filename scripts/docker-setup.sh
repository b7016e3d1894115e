#!/usr/bin/env bash
# Make the Docker backend usable: engine installed and running, runtime image built.
# Idempotent. The base image comes from a local debootstrap rootfs because no image
# registry is reachable here; set FUNCTORY_DOCKER_BASE (e.g. python:3.11-slim) to build on
# a registry image instead.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${FUNCTORY_DOCKER_IMAGE:-functory/runtime:latest}"
BASE="${FUNCTORY_DOCKER_BASE:-functory/base:bookworm-2}"
SUITE="${FUNCTORY_DOCKER_SUITE:-bookworm}"
MIRROR="${FUNCTORY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if ((${#need_apt[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    mkdir -p /var/log
    nohup dockerd >/var/log/functory-dockerd.log 2>&1 &
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -50 /var/log/functory-dockerd.log; exit 1; }
fi

if [[ "$BASE" == functory/base:* ]] && ! docker image inspect "$BASE" >/dev/null 2>&1; then
    rootfs="$(mktemp -d /var/tmp/functory-rootfs.XXXXXX)"
    debootstrap --variant=minbase --include=python3,nodejs,ruby,openjdk-17-jre-headless,curl,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >/dev/null
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$rootfs"
fi

# Always built: the layer cache makes an unchanged image a no-op, and a new base (its tag
# changes when the runtimes it carries change) or Dockerfile is picked up on machines that
# built an older one.
docker build -q --build-arg BASE="$BASE" -t "$IMAGE" invocations/executor/docker >/dev/null
echo "docker backend ready: $IMAGE"
