#!/bin/bash
# A fresh Debian 12 standing in for a new machine: debootstrap's minbase root with nothing of ours
# in it, a plain `git clone` of this checkout's main, and `npm test` alone, as root, in a chroot.
# What a new machine of this kind would bring with it is copied in and nothing else: Node and npm,
# the machine's extra CA certificates and npm settings (a registry behind a proxy), resolv.conf.
#
# usage (root): tools/fresh-debian.sh [ROOT]      ROOT defaults to /var/tmp/smc-fresh-debian
# The root is made anew each run; its log and npm test's summary lines are printed at the end.
set -euo pipefail
R=${1:-/var/tmp/smc-fresh-debian}
SRC=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
[ "$(id -u)" = 0 ] || { echo "fresh-debian: run as root (debootstrap, chroot)"; exit 2; }
step() { echo "=== $(date -u +%T) $*"; }
unmount() { for m in srv/main dev/shm dev/pts dev sys proc ''; do umount -l "$R/$m" 2>/dev/null || true; done; }

step "debootstrap"
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
MIRROR=$(grep -rhoE '^deb +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | head -1 || true)
[ -n "$MIRROR" ] || MIRROR=$(grep -rhoE '^URIs: +[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1)
unmount; rm -rf "$R"
debootstrap --variant=minbase --include=git,ca-certificates bookworm "$R" "$MIRROR" > "$R.debootstrap.log" 2>&1 \
  || { tail -20 "$R.debootstrap.log"; exit 1; }

step "what a new machine brings: Node $(node --version), npm, CA certificates, npm settings"
cp -a "$(command -v node)" "$R/usr/bin/node"
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$R/usr/lib/node_modules" && cp -a "$NPM_DIR" "$R/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/bin/npx"
cp /etc/resolv.conf "$R/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
  chroot "$R" update-ca-certificates >/dev/null 2>&1
fi
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$R/root/.npmrc"

step "git clone of main"
mount --bind "$R" "$R"   # a mount point of its own, as a machine's root is
for m in proc sys dev dev/pts dev/shm; do mount --bind "/$m" "$R/$m"; done
mkdir -p "$R/srv/main" && mount --bind -o ro "$SRC" "$R/srv/main"
trap unmount EXIT
chroot "$R" git clone -q --branch main /srv/main /root/smc
umount -l "$R/srv/main"
chroot "$R" git -C /root/smc log --oneline -1

step "npm test, alone"
set +e
chroot "$R" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt /bin/bash -c 'cd /root/smc && npm test' > "$R.npm-test.log" 2>&1
rc=$?
set -e
step "npm test exited $rc; full log: $R.npm-test.log"
grep -E '^(not ok|# (tests|pass|fail|skipped|todo))|passed, .* failed' "$R.npm-test.log" | tail -15
exit $rc
