#!/bin/bash
# Writes a fresh /etc/smartmissedcalls/config.yaml for install.sh: pbx: vitalpbx, our MariaDB
# user with a random password, a random server.secret. The file holds both secrets, so it is
# created unreadable to anyone but its owner (umask 077) rather than opened up and then
# chmod-ed: install.sh gives it to the service's group afterwards.
#   write-config.sh CONFIG DB_USER DB_NAME     refuses to overwrite an existing file
set -euo pipefail

CONFIG="$1"
DB_USER="$2"
DB_NAME="$3"

umask 077
set -o noclobber
DB_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > "$CONFIG" <<YAML
pbx: vitalpbx
db:
  user: '$DB_USER'
  password: '$DB_PASSWORD'
  database: '$DB_NAME'
  cdr_database: asterisk
  cdr_table: cdr
  pbx_database: ombutel
server:
  listen: '127.0.0.1:8093'
  secret: '$SECRET'
YAML
