#!/usr/bin/env bash
# setup.sh: install every Debian 12 package Strop needs to build, test and run.
# Non-interactive and idempotent; when everything is present it only checks and returns.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev clang-format-14 clang-tidy-14 ccache
  # libraries
  libboost1.81-dev libssl-dev liblmdb-dev lmdb-utils nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libspdlog-dev libfmt-dev
  libtomlplusplus-dev libre2-dev libxxhash-dev libicu-dev libmilter-dev libsystemd-dev zlib1g-dev
  # real peers used by the tests (legacy clients, MTA, AV, rules)
  razor pyzor python3-gdbm postfix swaks clamav-daemon clamdscan spamassassin spamd spamc
  miltertest curl procps iproute2 util-linux
  # fleet mode: the NATS JetStream server (tests) and its C client (node/src/fleet*)
  nats-server libnats-dev
  # Debian packages (scripts/package.sh, tests/package): debhelper's build, lintian, man pages
  # from scdoc sources, systemd-analyze for the units, man-db/bsdextrautils to render them
  debhelper dpkg-dev fakeroot lintian scdoc systemd man-db bsdextrautils passwd
  # the web console's browser test (tests/console): headless Chromium driven by Selenium
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Never let maintainer scripts start daemons (freshclam would try the network); tests start
# what they need themselves.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
