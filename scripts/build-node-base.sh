#!/usr/bin/env bash
# Builds the local Node.js base image of the app image (docker/node-base.Dockerfile), for engines
# that cannot pull `node:20` from a registry.
#
#   scripts/build-node-base.sh [--tag bisect-bot-node:20] [--dist DIR] [--ca-certs FILE]
#
# The Node runtime comes from this machine's `node` and `npm` (resolved through PATH), or from an
# official Node distribution unpacked into DIR (bin/node, lib/node_modules/npm), e.g.
#   curl -fsSLO https://nodejs.org/dist/v20.19.5/node-v20.19.5-linux-x64.tar.xz && tar xf node-*.tar.xz
#   scripts/build-node-base.sh --dist node-v20.19.5-linux-x64
# It must be Node 20.18 or newer on 20.x, for linux on the engine's architecture and linked against
# glibc (not musl). Behind a TLS-intercepting proxy, --ca-certs FILE (PEM) makes Node and npm in
# the image trust its CA (NODE_EXTRA_CA_CERTS). The image is tagged with the given tag and with
# bisect-bot-node:<version>. Uses the docker CLI and DOCKER_HOST as usual; pulls nothing.
# Prints the image id on stdout (build output goes to stderr).
set -euo pipefail

TAG=bisect-bot-node:20
DIST=
CA_CERTS=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --dist) DIST=$2; shift 2 ;;
    --ca-certs) CA_CERTS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() { echo "build-node-base: $*" >&2; exit 1; }

if [ -n "$DIST" ]; then
  NODE_BIN=$DIST/bin/node
  NPM_DIR=$DIST/lib/node_modules/npm
else
  NODE_BIN=$(command -v node) || fail "no node on PATH (or pass --dist DIR)"
  NPM_CLI=$(command -v npm) || fail "no npm on PATH (or pass --dist DIR)"
  NPM_DIR=$(dirname "$(dirname "$(readlink -f "$NPM_CLI")")")
fi
NODE_BIN=$(readlink -f "$NODE_BIN")
[ -x "$NODE_BIN" ] || fail "$NODE_BIN is not an executable"
[ -f "$NPM_DIR/bin/npm-cli.js" ] || fail "$NPM_DIR does not hold npm (bin/npm-cli.js)"

VERSION=$("$NODE_BIN" --version)
VERSION=${VERSION#v}
IFS=. read -r MAJOR MINOR _ <<<"$VERSION"
if [ "$MAJOR" != 20 ] || [ "$MINOR" -lt 18 ]; then
  fail "Node $VERSION found at $NODE_BIN; the app needs Node 20.18 or newer on 20.x"
fi
if ldd "$NODE_BIN" 2>/dev/null | grep -q musl; then fail "$NODE_BIN is linked against musl; a glibc build is needed"; fi

CONTEXT=$(mktemp -d "${TMPDIR:-/tmp}/bisect-node-base.XXXXXX")
trap 'rm -rf "$CONTEXT"' EXIT
cp "$NODE_BIN" "$CONTEXT/node"
cp -r "$NPM_DIR" "$CONTEXT/npm"
cp "$ROOT/docker/node-base.Dockerfile" "$CONTEXT/Dockerfile"
EXTRA_CA_ARG=
if [ -n "$CA_CERTS" ]; then
  grep -q -- "-----BEGIN CERTIFICATE-----" "$CA_CERTS" 2>/dev/null || fail "$CA_CERTS holds no PEM certificate"
  cp "$CA_CERTS" "$CONTEXT/extra-ca-certs.pem"
  EXTRA_CA_ARG=/usr/local/share/bisect-bot/extra-ca-certs.pem
else
  : >"$CONTEXT/extra-ca-certs.pem"
fi

echo "build-node-base: Node $VERSION from $NODE_BIN, npm $(node -p "require('$NPM_DIR/package.json').version" 2>/dev/null || echo '?') → $TAG" >&2
docker build --pull=false --build-arg "NODE_VERSION=$VERSION" --build-arg "EXTRA_CA_CERTS=$EXTRA_CA_ARG" -t "$TAG" -t "bisect-bot-node:$VERSION" "$CONTEXT" >&2
docker image inspect --format '{{.Id}}' "$TAG"
