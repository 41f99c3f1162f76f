#!/usr/bin/env bash
# Builds the dcr container image (Dockerfile) with docker, or with podman
# where there is no docker engine, tagged localhost/dcr:latest (the name
# compose.yaml uses) and localhost/dcr:VERSION, and prints the SHA-384 of
# its dcr binary: in sim mode, the measurement parties pin.
# With podman on a machine like the development ones (no registry, no
# bridge networking) it uses tests/container/containers.conf and builds the
# Debian base images with debootstrap first (tests/container/base-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^#define DCR_VERSION "\(.*\)"/\1/p' src/cli/main.c)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
args=(--build-arg VERSION="$version" --build-arg REVISION="$revision"
      -t localhost/dcr:latest -t "localhost/dcr:$version" .)
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  engine=docker
  docker build "${args[@]}"
else
  command -v podman >/dev/null || { echo "image: neither a docker engine nor podman is available" >&2; exit 1; }
  engine=podman
  export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/tests/container/containers.conf}
  tests/container/base-images.sh
  nice -n 10 podman build --format docker "${args[@]}"
fi
hash=$($engine run --rm --no-healthcheck --entrypoint cat localhost/dcr:latest /usr/local/share/dcr/dcr.sha384)
echo "localhost/dcr:latest ($version, $revision)"
echo "dcr SHA-384 (sim measurement): $hash"
