# dcr clean room image: a build stage that compiles build/dcr reproducibly,
# then a slim runtime with only the libraries dcr links, a non-root user,
# and nothing to write but the state volume (/var/lib/dcr) and /tmp.
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) \
#                --build-arg VERSION=$(git describe --always) -t dcr .
#   docker run --rm --read-only --tmpfs /tmp --cap-drop ALL \
#              --security-opt no-new-privileges -v dcr-state:/var/lib/dcr dcr help
#
# The build prints the SHA-384 of /usr/local/bin/dcr (with BuildKit, pass
# --progress=plain to see it; it is also in /usr/local/share/dcr/dcr.sha384,
# and `make image` prints it). In sim mode it is the measurement parties
# pin, and `make reproducible-check` (or any Debian 12 build of the same
# commit) reproduces it. See docs/deploy-azure.md and docs/security.md.

ARG BUILD_IMAGE=docker.io/library/debian:bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# Dependencies first: this layer is cached until scripts/deps.sh changes.
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY scripts/ scripts/
COPY src/ src/
# SOURCE_DATE_EPOCH only matters to __DATE__/__TIME__, which dcr never uses;
# it is fixed here so that stays true if a dependency's header starts to.
ARG SOURCE_DATE_EPOCH=0
RUN mkdir -p build && touch build/.deps-ok \
 && make -j"$(nproc)" build/dcr \
 && scripts/runtime-deps.sh build/dcr > build/runtime-packages \
 && sha384sum build/dcr | cut -d' ' -f1 > build/dcr.sha384 \
 && scripts/deps.sh --toolchain > build/toolchain \
 && echo "dcr SHA-384 (sim measurement): $(cat build/dcr.sha384)" \
 && echo "runtime packages: $(tr '\n' ' ' < build/runtime-packages)"

FROM ${RUNTIME_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=build /src/build/runtime-packages /tmp/runtime-packages
RUN apt-get update \
 && apt-get install -y --no-install-recommends $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /tmp/runtime-packages \
 && groupadd --system --gid 10001 dcr \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/dcr --no-create-home \
            --shell /usr/sbin/nologin dcr \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/dcr \
 && install -d /usr/local/share/dcr \
 && dpkg-query -W -f '${Package} ${Version}\n' > /usr/local/share/dcr/packages.txt
COPY --from=build /src/build/dcr /usr/local/bin/dcr
COPY --from=build /src/build/dcr.sha384 /src/build/toolchain /usr/local/share/dcr/

ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=
# Using the arguments in a RUN also keeps podman's layer cache from reusing
# labels of an earlier revision (buildah 1.28 keys LABEL layers without them).
RUN printf 'version=%s\nrevision=%s\nsource=%s\n' "$VERSION" "$REVISION" "$SOURCE" \
      > /usr/local/share/dcr/build-info
LABEL org.opencontainers.image.title="dcr" \
      org.opencontainers.image.description="dcr: a confidential data clean room" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"

USER 10001:10001
WORKDIR /var/lib/dcr
VOLUME ["/var/lib/dcr"]
ENV TMPDIR=/tmp HOME=/var/lib/dcr \
    DCR_HEALTH_URL=https://127.0.0.1:8443 DCR_HEALTH_CONTRACT=/etc/dcr/contract.json
# Healthy = the service is alive: GET /v1/health answers {"status":"ok"}
# (`dcr health`; the image has no curl). Liveness is kept apart from
# attestation, which every party checks itself (`dcr attest check`) and
# which a probe every 30 s need not repeat. Containers that run other
# commands (no contract at DCR_HEALTH_CONTRACT: not a clean room) only
# check dcr runs.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["/bin/sh", "-c", "if [ -r \"$DCR_HEALTH_CONTRACT\" ]; then exec /usr/local/bin/dcr health --quiet --server \"$DCR_HEALTH_URL\"; else exec /usr/local/bin/dcr version; fi"]
ENTRYPOINT ["/usr/local/bin/dcr"]
CMD ["help"]
