#!/usr/bin/env bash
# package.sh: build the Debian packages strop-node, strop and strop-milter into
# build/packages/*.deb with debhelper (debian/rules; docs/packaging.md). The compile tree is
# build/pkg (kept, so a second run only rebuilds what changed); ccache is used when installed.
#   BUILD_DIR=DIR  compile tree (default build/pkg)
#   PKG_DIR=DIR    where the .debs go (default build/packages; emptied first)
#   JOBS=N         compile jobs (default nproc), or DEB_BUILD_OPTIONS as dpkg-buildpackage takes it
# Runs as root or not (Rules-Requires-Root: no); needs the packages scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build/pkg}
pkg_dir=${PKG_DIR:-build/packages}
dpkg-checkbuilddeps
rm -rf "$pkg_dir"
mkdir -p "$pkg_dir"
export DEB_RULES_REQUIRES_ROOT=no
# dh builds with one job unless told; tests run in the test command, not here.
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=${JOBS:-$(nproc)} nocheck}
start=$(date +%s)
debian/rules BUILDDIR="$build_dir" PKGDIR="$pkg_dir" binary
# The staging directories under debian/ go; the compile tree stays.
dh_clean
ls -l "$pkg_dir"/*.deb
echo "package.sh: built $(ls "$pkg_dir"/*.deb | wc -l) packages in $(( $(date +%s) - start )) s"
