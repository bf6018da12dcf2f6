#!/usr/bin/env bash
# Installs attest under a prefix: the binary in PREFIX/bin, and the data it reads at run time
# (provider specs, built-in controls and framework catalogues, the demo's recorded account) in
# PREFIX/share/attest, where the binary looks for them wherever it is run from.
#
#   scripts/install.sh                          # release build, into /usr/local
#   scripts/install.sh --prefix ~/.local        # into ~/.local/bin and ~/.local/share/attest
#   scripts/install.sh --binary .build/debug/attest --prefix /tmp/attest     # an existing build
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)

prefix=/usr/local
configuration=release
build=yes
binary=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --configuration) configuration=${2:?--configuration needs debug or release}; shift 2 ;;
    --configuration=*) configuration=${1#--configuration=}; shift ;;
    --no-build) build=no; shift ;;
    --binary) binary=${2:?--binary needs a path}; build=no; shift 2 ;;
    --binary=*) binary=${1#--binary=}; build=no; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$configuration" in debug|release) ;; *) echo "install.sh: --configuration must be debug or release, not $configuration" >&2; exit 2 ;; esac
# Paths given relative to where the script was run from, not to the checkout.
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
if [ -n "$binary" ]; then binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary"); fi
cd "$checkout"

if [ "$build" = yes ]; then swift build -c "$configuration" --product attest; fi
binary=${binary:-.build/$configuration/attest}
[ -x "$binary" ] || { echo "install.sh: $binary is not an executable; build it or drop --no-build" >&2; exit 2; }

share="$prefix/share/attest"
mkdir -p "$prefix/bin" "$share"
# Replace the data whole, so a control removed from the checkout does not linger in the install.
for dir in providers controls fixtures config; do
  rm -rf "${share:?}/$dir"
  cp -R "$dir" "$share/$dir"
done
install -m 0755 "$binary" "$prefix/bin/attest"
echo "installed $prefix/bin/attest with its data in $share"
