#!/usr/bin/env bash
# The console's Go blueprint: its bootstrap, built from console/go_blueprint with the host's
# Go toolchain (Debian's golang-go; scripts/sdk-clients.sh installs it for the tests) into
# go-blueprint/ (build output, never committed), since nobody can compile Go in a browser.
# Without Go, nothing is built and the console lists the blueprint as unavailable, saying
# why. No module downloads: the source needs the standard library only. Idempotent: rebuilt
# when the source or the toolchain changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/go-blueprint"
if ! command -v go >/dev/null; then
    echo "no Go toolchain: the console's Go blueprint is unavailable (install golang-go)"
    exit 0
fi
want="$( (cat console/go_blueprint/main.go console/go_blueprint/go.mod; go version) | sha256sum | cut -d' ' -f1)"
if [[ -x "$out/bootstrap" && -f "$out/.built" && "$(cat "$out/.built")" == "$want" ]]; then
    exit 0
fi
mkdir -p "$out"
rm -f "$out/.built"
# The standard library's build cache outlives one run (in the temp dir, shared with the
# live tests' Go builds); GOPATH stays empty (nothing to download).
tmp="${TMPDIR:-/tmp}"
(
    cd console/go_blueprint
    env GOFLAGS= GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0 GOOS=linux \
        GOCACHE="${GOCACHE:-$tmp/functory-go-cache}" GOPATH="$tmp/functory-gopath" \
        go build -trimpath -ldflags="-s -w" -o "$out/bootstrap.new" .
)
mv "$out/bootstrap.new" "$out/bootstrap"
echo "$want" > "$out/.built"
echo "go blueprint built: go-blueprint/bootstrap"
