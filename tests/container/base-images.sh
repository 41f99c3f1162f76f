#!/usr/bin/env bash
# Makes sure podman has the two base images the Dockerfile names,
# docker.io/library/debian:bookworm-slim (runtime) and
# docker.io/library/debian:bookworm (build). Where they cannot be pulled (no
# registry access, as on the development and CI machines), it builds them
# from Debian's own packages: `debootstrap --variant=minbase bookworm`, with
# the same apt sources as the official images (bookworm, bookworm-updates,
# bookworm-security), apt caches emptied, and for -slim the official slim
# image's dpkg excludes (no docs, man pages or translations), then `podman
# import`. Images already present are kept: they are the cache (about a
# minute to rebuild). DCR_BASE_REBUILD=1 rebuilds them; DCR_BASE_PULL=1
# pulls them instead (a machine with registry access).
set -euo pipefail
slim=docker.io/library/debian:bookworm-slim
full=docker.io/library/debian:bookworm
marker=org.dcr.base=debootstrap-minbase

have() { podman image exists "$1"; }
if [[ "${DCR_BASE_REBUILD:-0}" != 1 ]] && have "$slim" && have "$full"; then
  echo "base images: present ($slim, $full)"
  exit 0
fi
if [[ "${DCR_BASE_PULL:-0}" == 1 ]]; then
  podman pull "$slim" && podman pull "$full"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "base images: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "base images: debootstrap needs root" >&2; exit 1; }

mirror=${DCR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /var/tmp/dcr-base-XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
start=$(date +%s)
echo "base images: debootstrap --variant=minbase bookworm (about a minute)"
if ! nice -n 10 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/log" 2>&1; then
  tail -n 30 "$work/log" >&2
  echo "base images: debootstrap failed (log above)" >&2
  exit 1
fi
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: ${mirror}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# Like the official images: no recommends, no apt caches in layers.
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/*
: > "$root/etc/machine-id"

tar --numeric-owner -C "$root" -cf - . |
  podman import --change "LABEL $marker" --change 'CMD ["bash"]' - "$full" >/dev/null

cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CONF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
tar --numeric-owner -C "$root" -cf - . |
  podman import --change "LABEL $marker" --change 'CMD ["bash"]' - "$slim" >/dev/null
echo "base images: built $full and $slim in $(($(date +%s) - start)) s"
