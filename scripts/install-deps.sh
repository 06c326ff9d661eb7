#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test, skipping those already present.
# Nothing is fetched from anywhere but Debian's archive.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsimdjson-dev libyaml-cpp-dev libfmt-dev
      libcli11-dev libpcre2-dev libicu-dev libzstd-dev zlib1g-dev libxxhash-dev libgtest-dev
      libgmock-dev zstd gzip python3 python3-jsonschema python3-regex python3-yaml python3-sentencepiece
      libgumbo-dev libopencc-dev opencc libsentencepiece-dev sentencepiece libfasttext-dev fasttext libpython3-dev
      libsqlite3-dev libcpp-httplib-dev curl
      chromium)  # tests/cli/dashboard_test.sh: the dashboard in headless Chromium
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
