#!/bin/sh
# Runs Node.js 18 or newer with the arguments given. The package ships it as
# build/smc-node.sh: FreePBX's pm2 module starts "smc-node.sh smc.js serve" in build/, and
# install runs "smc-node.sh build/smc.js <command>".
#
# pm2 starts every app with the one `node` on its PATH, and on FreePBX 16 (SNG7, glibc
# 2.17) that node is old and cannot be upgraded (UCP's native add-on depends on it), so
# Smart Missed Calls uses a Node installed beside it. Which one, first match wins:
#   1. $SMC_NODE, the configured path: used as it is (install checks its version);
#   2. the first of $SMC_NODE_SEARCH (default /opt/smc-node/bin/node, then
#      /usr/local/lib/nodejs/*/bin/node) that runs and is 18 or newer;
#   3. `node` on the PATH, if it runs and is 18 or newer.
# pm2 runs a .sh file with bash; this is plain sh so install can run it anywhere.
MIN_MAJOR=18
: "${SMC_NODE_SEARCH:=/opt/smc-node/bin/node /usr/local/lib/nodejs/*/bin/node}"

if [ -n "$SMC_NODE" ]; then
  if [ ! -f "$SMC_NODE" ] || [ ! -x "$SMC_NODE" ]; then
    echo "smc-node.sh: SMC_NODE=$SMC_NODE is not an executable file. Point SMC_NODE at a Node.js $MIN_MAJOR or newer (its bin/node), or unset it to search $SMC_NODE_SEARCH and the PATH." >&2
    exit 1
  fi
  exec "$SMC_NODE" "$@"
fi

# The major version of the node at $1 when it runs, else nothing.
major_of() {
  version=$("$1" --version 2>/dev/null) || return 0
  major=${version#v}
  major=${major%%.*}
  case $major in '' | *[!0-9]*) return 0 ;; esac
  echo "$major"
}

tried=""
try_node() {
  [ -f "$1" ] && [ -x "$1" ] || return 1
  major=$(major_of "$1")
  if [ -n "$major" ] && [ "$major" -ge "$MIN_MAJOR" ]; then
    return 0
  fi
  if [ -n "$major" ]; then
    tried="$tried $1 (Node $major),"
  else
    tried="$tried $1 (does not run),"
  fi
  return 1
}

# Unquoted on purpose: the list is split on spaces and its globs expanded.
for candidate in $SMC_NODE_SEARCH; do
  if try_node "$candidate"; then
    exec "$candidate" "$@"
  fi
done
on_path=$(command -v node 2>/dev/null)
if [ -n "$on_path" ] && try_node "$on_path"; then
  exec "$on_path" "$@"
fi

echo "smc-node.sh: found no Node.js $MIN_MAJOR or newer in $SMC_NODE_SEARCH or on the PATH.${tried:+ Tried:${tried%,}.} Install one in /opt/smc-node (see docs/install-freepbx.md, \"Node.js on FreePBX 16\"), or set SMC_NODE to its bin/node when installing the module." >&2
exit 1
