#!/usr/bin/env bash
# The container test: builds the dcr image (Dockerfile) with podman and runs
# the multi-party demo (deploy/demo/party.sh, as compose.yaml does) in three
# hardened containers: --read-only, --tmpfs /tmp, --cap-drop ALL,
# --security-opt no-new-privileges, non-root. Checks the results are the
# same as the same flow on the host with the release build ($DCR), that the
# image's dcr is the same binary (reproducible build, when both toolchains
# match), and the image's hardening. `make test` runs it once (tests/run.sh);
# alone: tests/container/run.sh [build/dcr]. Ends with "N passed, N failed".
# The flow includes a restart of the clean room with re-grants, and checks
# that parties refuse a clean room whose evidence or contract differs.
#
# Skips (saying why, "0 passed, 0 failed, 1 skipped") only where this
# machine cannot run containers: podman missing and not root to install it,
# or podman unable to start any container. Under CI=true or
# DCR_REQUIRE_CONTAINERS=1 those are failures, never skips.
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DCR=${1:-${DCR:-build/dcr}}
DCR=$(cd "$(dirname "$DCR")" && pwd)/$(basename "$DCR")
IMAGE=${DCR_TEST_IMAGE:-localhost/dcr:test}
DCR_TAG=$IMAGE
export CONTAINERS_CONF=${DCR_CONTAINERS_CONF:-$ROOT/tests/container/containers.conf}
require=0
[[ "${CI:-}" == true || "${DCR_REQUIRE_CONTAINERS:-0}" == 1 ]] && require=1
T=$(mktemp -d /var/tmp/dcr-ctest-XXXXXX 2>/dev/null || mktemp -d)
cleanup() {
  local c
  for c in "${containers[@]}"; do podman rm -f -v "$c" >/dev/null 2>&1; done
  rm -rf "$T"
}
containers=()
trap cleanup EXIT
_pass=0 _fail=0
ok() { _pass=$((_pass + 1)); echo "ok   $*"; }
bad() { _fail=$((_fail + 1)); echo "not ok $*"; }
check() { # description, command...
  local what=$1; shift
  if "$@" >"$T/.out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/    /' "$T/.out" | tail -20; fi
}
finish() { echo "$_pass passed, $_fail failed"; [[ $_fail -eq 0 ]]; exit; }
skip() {
  if [[ $require == 1 ]]; then bad "containers required here (CI): $*"; finish; fi
  echo "SKIP container test: $*"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
}

[[ -x "$DCR" ]] || { bad "no release binary at $DCR (make build/dcr)"; finish; }
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  [[ $(id -u) -eq 0 ]] && { bad "podman, runc or debootstrap missing although scripts/deps.sh installs them as root"; finish; }
  skip "podman, runc and debootstrap are not installed and this user cannot install them (as root: scripts/deps.sh)"
fi
[[ $(id -u) -eq 0 ]] || skip "the test drives rootful podman (host network, runc, debootstrap base images); run it as root"

# 1. Base images (cached in podman's store), then a probe that containers run.
if ! tests/container/base-images.sh >"$T/base.log" 2>&1; then
  cat "$T/base.log"; bad "base images (debootstrap + podman import)"; finish
fi
tail -n 1 "$T/base.log"
if ! podman run --rm --network host docker.io/library/debian:bookworm-slim true >"$T/probe.log" 2>&1; then
  sed 's/^/    /' "$T/probe.log"
  skip "podman cannot start a container on this machine (error above)"
fi

# 2. The image. Layers are cached: only a source change rebuilds dcr.
version=$("$DCR" version | awk '{print $2}')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
start=$SECONDS
if ! nice -n 10 podman build --format docker --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" --iidfile "$T/iid" -t "$IMAGE" . >"$T/build.log" 2>&1; then
  tail -n 40 "$T/build.log"; bad "podman build"; finish
fi
ok "podman build ($((SECONDS - start)) s)"
# Run this build by its id: another tree's test may retag $IMAGE meanwhile.
IMAGE=$(cat "$T/iid")
grep -E '^dcr SHA-384|^runtime packages' "$T/build.log" || true
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $DCR_TAG (${IMAGE#sha256:}): $((size / 1000000)) MB"

run() { # hardened one-shot container: run [podman options...] -- [args...]
  local opts=()
  while [[ $# -gt 0 && $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  podman run --rm --network host --no-healthcheck --read-only --tmpfs /tmp:rw,noexec,nosuid,nodev \
    --cap-drop ALL --security-opt no-new-privileges "${opts[@]}" "$IMAGE" "$@"
}
export IMAGE
export -f run # for the checks below that run it through bash -c

# 3. The image itself.
img_hash=$(run --entrypoint sha384sum -- /usr/local/bin/dcr | cut -d' ' -f1)
host_hash=$(sha384sum "$DCR" | cut -d' ' -f1)
echo "dcr SHA-384: image $img_hash"
echo "             host  $host_hash"
check "the image records its binary's SHA-384" \
  test "$(run --entrypoint cat -- /usr/local/share/dcr/dcr.sha384)" = "$img_hash"
host_tc=$(scripts/deps.sh --toolchain 2>/dev/null)
img_tc=$(run --entrypoint cat -- /usr/local/share/dcr/toolchain)
if [[ "$host_tc" == "$img_tc" ]] && [[ "${OPT:-}" == "" ]]; then
  check "reproducible: the image's dcr is byte for byte the host's release build" test "$img_hash" = "$host_hash"
else
  echo "note: host and image toolchains differ, binaries not compared:"
  diff <(echo "$host_tc") <(echo "$img_tc") | sed 's/^/    /'
fi
check "the image lists its Debian packages (dcr's libraries among them)" bash -c \
  "run --entrypoint cat -- /usr/local/share/dcr/packages.txt | grep -q '^libssl3 '"
check "runs as uid 10001, not root" test "$(run --entrypoint id -- -u)" = 10001
check "no effective or bounding capabilities" \
  bash -c "run --entrypoint grep -- -E '^Cap(Eff|Bnd):' /proc/self/status | awk '{print \$2}' | sort -u | grep -qx 0000000000000000"
check "no new privileges" bash -c "podman run --rm --network host --no-healthcheck --read-only --cap-drop ALL \
  --security-opt no-new-privileges --entrypoint grep $IMAGE -x 'NoNewPrivs:.1' /proc/self/status"
check "root file system is read-only" bash -c "! podman run --rm --network host --no-healthcheck --read-only \
  --cap-drop ALL --entrypoint touch $IMAGE /usr/local/bin/x"
mkdir -p "$T/state-probe" && chown 10001:10001 "$T/state-probe"
check "/tmp (tmpfs) and the state volume are writable" run -v "$T/state-probe:/var/lib/dcr" \
  --entrypoint bash -- -c 'touch /tmp/x && dcr keygen --out /var/lib/dcr/probe >/dev/null && test -s /var/lib/dcr/probe.key'
# In a user namespace (what dockerd --userns-remap and podman --userns do),
# the container's uid 10001 is an unprivileged uid on the host.
mkdir -p "$T/userns" && chown 210001:210001 "$T/userns"
check "runs in a user namespace: uid 10001 inside is 210001 outside" bash -c \
  "run --uidmap 0:200000:65536 --gidmap 0:200000:65536 -v '$T/userns:/var/lib/dcr' -- keygen --out /var/lib/dcr/u >/dev/null &&
   test \$(stat -c %u '$T/userns/u.key') = 210001"
check "no compiler or package build tools in the runtime image" \
  bash -c "! podman run --rm --network host --no-healthcheck --entrypoint bash $IMAGE -c 'command -v cc || command -v gcc || command -v make'"
check "OCI labels: version and revision" test \
  "$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.revision"}}' "$IMAGE")" \
  = "$version $revision"
check "entrypoint is dcr, runs with no arguments given (help)" bash -c "podman run --rm --network host --no-healthcheck $IMAGE | grep -q 'Usage: dcr'"
hc=dcr-ctest-health-$$
containers+=("$hc")
podman run -d --name "$hc" --network host --read-only --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges --entrypoint sleep "$IMAGE" 120 >/dev/null 2>"$T/hc.err"
check "HEALTHCHECK is set and passes" bash -c "podman inspect --type image --format '{{.HealthCheck}}' $IMAGE | grep -q dcr && podman healthcheck run $hc"
podman rm -f -v "$hc" >/dev/null 2>&1

# 4. compose.yaml: valid YAML, three parties, every container hardened.
check "compose.yaml: parties, roles and hardening" /usr/bin/python3 - <<'PY'
import sys, yaml
d = yaml.safe_load(open("compose.yaml"))
s = d["services"]
assert {"cleanroom", "publisher", "advertiser"} <= set(s), s.keys()
for name, svc in s.items():
    assert svc.get("read_only") is True, name
    assert svc.get("cap_drop") == ["ALL"], name
    assert "no-new-privileges:true" in svc.get("security_opt", []), name
    if name != "exchange-init":
        assert svc.get("user") == "10001:10001", name
        assert svc["command"] == [name], name
        assert "/tmp" in svc["tmpfs"][0], name
        assert any(v.endswith(":/var/lib/dcr") for v in svc["volumes"]), name
PY

# 5. The multi-party flow on the host (reference), then in containers.
ref=$T/host
mkdir -p "$ref"/{exchange,input,cleanroom,publisher,advertiser}
for role in cleanroom publisher advertiser; do
  DCR="$DCR" EXCHANGE="$ref/exchange" DCR_STATE="$ref/$role" INPUT="$ref/input" DCR_MEASUREMENT="$host_hash" \
    WAIT_SECONDS=120 bash deploy/demo/party.sh "$role" >"$T/host-$role.log" 2>&1 &
done
hostfail=0
for job in $(jobs -p); do wait "$job" || hostfail=1; done
check "host flow: all three parties finished" test $hostfail = 0
[[ $hostfail = 0 ]] || tail -n 5 "$T"/host-*.log

ctr=$T/ctr
mkdir -p "$ctr"/{exchange,input,cleanroom,publisher,advertiser}
cp "$ref/publisher/impressions.csv" "$ref/advertiser/purchases.csv" "$ctr/input/"
chown -R 10001:10001 "$ctr"
chmod 0700 "$ctr"/{cleanroom,publisher,advertiser}
# The clean room listens on a free port and keeps its HEALTHCHECK (dcr
# health: GET /v1/health), probed below while the first instance is
# held up (HOLD_UNTIL).
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
extra_cleanroom=(-e DCR_LISTEN="127.0.0.1:$port" -e DCR_HEALTH_URL="https://127.0.0.1:$port"
  -e DCR_HEALTH_CONTRACT=/var/lib/dcr/contract.json -e HOLD_UNTIL=health-checked)
start=$SECONDS
for role in cleanroom publisher advertiser; do
  name=dcr-ctest-$role-$$
  containers+=("$name")
  extra=(--no-healthcheck)
  [[ $role == cleanroom ]] && extra=("${extra_cleanroom[@]}")
  # The same container settings as compose.yaml, with host networking.
  podman run -d --name "$name" --network host "${extra[@]}" --read-only \
    --tmpfs /tmp:rw,noexec,nosuid,nodev,size=64m --cap-drop ALL --security-opt no-new-privileges \
    --user 10001:10001 -e EXCHANGE=/exchange -e DCR_MEASUREMENT="$img_hash" -e WAIT_SECONDS=180 \
    -v "$ROOT/deploy/demo:/demo:ro" -v "$ctr/exchange:/exchange" -v "$ctr/$role:/var/lib/dcr" \
    -v "$ctr/input:/input:ro" --entrypoint /bin/bash "$IMAGE" /demo/party.sh "$role" >/dev/null
done
for ((i = 0; i < 900; i++)); do [[ -s "$ctr/exchange/server.url" || -e "$ctr/exchange/FAILED" ]] && break; sleep 0.2; done
check "HEALTHCHECK of the serving clean room: healthy (dcr health: GET /v1/health)" \
  podman healthcheck run "dcr-ctest-cleanroom-$$"
# A party whose contract differs (here: it pins another measurement) is
# refused before anything is sent; and the served evidence itself fails
# against another measurement.
zero=$(printf '%096d' 0)
sed "s/$img_hash/$zero/" "$ctr/publisher/contract.json" > "$T/wrong-contract.json"
chmod 644 "$T/wrong-contract.json"
check "a party holding another contract (another measurement) refuses the clean room" bash -c \
  "! run -v '$T/wrong-contract.json:/wrong.json:ro' -- attest check --server https://127.0.0.1:$port \
     --contract /wrong.json > '$T/wrong.out' 2>&1 && grep -q 'another contract' '$T/wrong.out'"
check "the served evidence fails against another measurement" bash -c \
  "curl -skf https://127.0.0.1:$port/v1/attestation |
     /usr/bin/python3 -c 'import sys, json, base64; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)[\"evidence\"]))' \
     > '$T/served.ev' && chmod 644 '$T/served.ev' &&
   run -v '$T/served.ev:/ev:ro' -- attest verify --type sim --evidence /ev --measurement $img_hash > /dev/null 2>&1 &&
   ! run -v '$T/served.ev:/ev:ro' -- attest verify --type sim --evidence /ev --measurement $zero > '$T/ev.out' 2>&1 &&
   grep -qi measurement '$T/ev.out'"
touch "$ctr/exchange/health-checked"
for role in cleanroom publisher advertiser; do
  rc=$(podman wait "dcr-ctest-$role-$$" 2>/dev/null | tail -n 1)
  podman logs "dcr-ctest-$role-$$" >"$T/ctr-$role.log" 2>&1
  check "container flow: $role exited 0 (exit ${rc:-?})" test "${rc:-1}" = 0
  [[ "${rc:-1}" == 0 ]] || tail -n 8 "$T/ctr-$role.log" | sed 's/^/    /'
done
echo "container flow: $((SECONDS - start)) s"
sed -n '/results released/,$p' "$T/ctr-advertiser.log" | head -n 40
check "the host flow released the three agreed results" \
  test -s "$ref/exchange/results/attribution_by_campaign.csv" -a -s "$ref/exchange/results/overlap.csv" \
  -a -s "$ref/exchange/results/reach_by_campaign.csv"
for f in "$ref"/exchange/results/*; do
  r=$(basename "$f")
  check "container results = host results: $r" cmp "$f" "$ctr/exchange/results/$r"
done
check "results are non-trivial (12 campaigns, a positive overlap)" bash -c \
  "test \$(tail -n +2 '$ctr/exchange/results/attribution_by_campaign.csv' | wc -l) = 12 &&
   test \$(tail -n 1 '$ctr/exchange/results/overlap.csv') -gt 1000"
check "the clean room's state volume holds no plaintext identifiers" bash -c \
  "! grep -rlaiE 'user[0-9]+@example\\.com' '$ctr/cleanroom'"
check "the exchange holds no plaintext identifiers" bash -c \
  "! grep -rlaiE 'user[0-9]+@example\\.com' '$ctr/exchange' --exclude-dir=results"
check "private keys stayed in each party's own volume (0600)" bash -c \
  "test \$(stat -c %a '$ctr/publisher/publisher.key') = 600 && ! ls '$ctr/exchange' | grep -q '\\.key\$'"
finish
