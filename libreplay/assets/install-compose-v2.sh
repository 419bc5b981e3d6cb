#!/usr/bin/env bash
# Install the Docker Compose v2 CLI plugin (`docker compose`) on Debian bookworm, which ships
# only Compose v1. Debian trixie's `docker-compose` package (2.x) installs the v2 plugin at
# /usr/libexec/docker/cli-plugins/docker-compose and needs only libc6 >= 2.34 (bookworm: 2.36).
# The .deb is fetched with a throw-away apt configuration, so the system's apt sources and
# package lists are left exactly as they were; then it is installed with dpkg -i.
#
# Usage: install-compose-v2.sh                    download and install (as root)
#        install-compose-v2.sh --download-only DIR  only fetch the .deb into DIR (any user)
set -euo pipefail

mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
download_only=""
if [ "${1:-}" = "--download-only" ]; then
    download_only="${2:?--download-only needs a directory}"
fi
if [ -z "$download_only" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install-compose-v2.sh: must run as root: sudo bash $0" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/var/tmp}/replaybook-compose.XXXXXX")"
trap 'rm -rf "$work"' EXIT INT TERM
chmod 0755 "$work"  # apt downloads as the unprivileged _apt user
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
cat > "$work/trixie.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie
Components: main
SOURCES

apt_options=(
    -o "Dir::Etc::SourceList=$work/trixie.sources"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
)
apt-get "${apt_options[@]}" update
(cd "$work" && apt-get "${apt_options[@]}" download docker-compose)
deb="$(ls "$work"/docker-compose_*.deb)"

if [ -n "$download_only" ]; then
    mkdir -p "$download_only"
    cp "$deb" "$download_only/"
    echo "$download_only/$(basename "$deb")"
    exit 0
fi
dpkg -i "$deb"
docker compose version
