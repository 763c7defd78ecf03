#!/usr/bin/env bash
# Installs the Debian packages the build needs, and nothing else, only when missing.
#
# Idempotent: a second run checks `dpkg-query` and returns in well under a second.
# Every machine here is offline except for Debian's package mirrors, so the build
# uses Debian's Bazel and libraries instead of anything Bazel would download.
set -euo pipefail

packages=(
  bazel-bootstrap       # Bazel 4.2.3
  bazel-rules-java      # @rules_java as a local_repository
  g++                   # default toolchain
  clang-14              # --config=fuzz
  libclang-rt-14-dev    # libFuzzer and sanitizer runtimes for clang
  libabsl-dev           # absl::Status, containers, flags
  librapidcheck-dev     # property and state-machine tests
  libgtest-dev          # unit tests
  libgmock-dev
  libbenchmark-dev      # bench/
  libxxhash-dev         # page checksums
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
