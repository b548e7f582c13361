#!/bin/bash
# Removes everything install.sh added: the service, the web snippet, the panel rows in
# ombutel, our database (every entry, audit row, setting and account) and MariaDB user,
# the config and the files. VitalPBX's own tables, cdr and cel are left as they were.
# Run as root. --keep-data leaves our database and config in place.
set -euo pipefail

KEEP_DATA=no
[ "${1:-}" = "--keep-data" ] && KEEP_DATA=yes
MYSQL=(mysql --protocol=socket -uroot)
[ "$(id -u)" = 0 ] || { echo "uninstall: run as root" >&2; exit 1; }

systemctl disable --now smartmissedcalls.service 2>/dev/null || true
rm -f /etc/systemd/system/smartmissedcalls.service
systemctl daemon-reload

if [ -f /etc/nginx/pbx-addons/smartmissedcalls.conf ]; then
  rm -f /etc/nginx/pbx-addons/smartmissedcalls.conf
  nginx -t && systemctl reload nginx
fi
if [ -f /etc/apache2/conf-available/smartmissedcalls.conf ]; then
  a2disconf -q smartmissedcalls || true
  rm -f /etc/apache2/conf-available/smartmissedcalls.conf
  apachectl configtest && systemctl reload apache2
fi

"${MYSQL[@]}" ombutel < /usr/share/smartmissedcalls/vitalpbx/unregister.sql || true

if [ "$KEEP_DATA" = no ]; then
  "${MYSQL[@]}" -e "DROP DATABASE IF EXISTS \`smartmissedcalls\`; DROP USER IF EXISTS 'smartmissedcalls'@'localhost';"
  rm -rf /etc/smartmissedcalls
fi
gpasswd -d www-data smartmissedcalls >/dev/null 2>&1 || true
userdel smartmissedcalls 2>/dev/null || true
getent group smartmissedcalls >/dev/null && groupdel smartmissedcalls 2>/dev/null || true
rm -rf /usr/share/smartmissedcalls
if [ "$KEEP_DATA" = yes ]; then
  echo "Smart Missed Calls removed; its data stays in database smartmissedcalls and /etc/smartmissedcalls."
else
  echo "Smart Missed Calls removed."
fi
