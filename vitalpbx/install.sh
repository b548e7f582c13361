#!/bin/bash
# Installs Smart Missed Calls on VitalPBX 4 (Debian 11, Apache) or 4.5 (Debian 12, nginx):
#   - the module in /usr/share/smartmissedcalls (this package's contents),
#   - a MariaDB user of its own with the least the service needs (VitalPBX has no
#     credentials file an add-on may read): SELECT on asterisk.cdr/cel and ombutel.*,
#     SELECT/INSERT/UPDATE/DELETE on its own database `smartmissedcalls` — no CREATE, ALTER,
#     TRIGGER or DROP, so it cannot drop the audit journal's triggers (docs/security.md);
#     the list is serviceGrants() in src/cli/doctor.ts, which `smc doctor` checks,
#   - /etc/smartmissedcalls/config.yaml (pbx: vitalpbx, a fresh server.secret),
#   - our tables and the audit key (smc migrate, as MariaDB's root), a systemd unit running
#     as user `smartmissedcalls`,
#   - the page at /smartmissedcalls/ (nginx snippet or Apache alias + the PHP glue),
#   - the module, menu entry and super-admin privileges in ombutel (register.sql).
# Run as root from the unpacked package: ./vitalpbx/install.sh   Safe to run again.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST=/usr/share/smartmissedcalls
ETC=/etc/smartmissedcalls
CONFIG=$ETC/config.yaml
SERVICE_USER=smartmissedcalls
DB_NAME=smartmissedcalls
DB_USER=smartmissedcalls
MYSQL=(mysql --protocol=socket -uroot)

die() { echo "install: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root"
command -v node >/dev/null || die "node is missing: apt-get install nodejs (Node 18 or newer)"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || die "Node $(node --version) is too old; Smart Missed Calls needs Node 18 or newer"
"${MYSQL[@]}" -e 'SELECT 1' >/dev/null || die "cannot reach MariaDB as root over its socket"
"${MYSQL[@]}" -e 'SELECT 1 FROM ombutel.ombu_tenants LIMIT 1' >/dev/null || die "ombutel.ombu_tenants not found: is this a VitalPBX 4 box?"

# Our tables come first, migrated by this package's own smc before anything else on the
# machine changes: a database a newer release migrated is refused here (downgrading is not
# supported), leaving the installed files, accounts, grants and service as they were.
echo "== config and our tables"
mkdir -p "$ETC"
if [ ! -f "$CONFIG" ]; then
  bash "$SRC/vitalpbx/write-config.sh" "$CONFIG" "$DB_USER" "$DB_NAME"
fi
DB_PASSWORD="$(sed -n "s/^  password: '\(.*\)'$/\1/p" "$CONFIG" | head -1)"
"${MYSQL[@]}" -e "CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` DEFAULT CHARACTER SET utf8mb4"
# Creating and changing our tables and the journal's triggers is root's, not the service's.
ROOT_SOCKET="$("${MYSQL[@]}" -NBe 'SELECT @@socket')"
SMC_DB_USER=root SMC_DB_PASSWORD='' SMC_DB_SOCKET="$ROOT_SOCKET" node "$SRC/build/smc.js" --config "$CONFIG" migrate \
  || die "Smart Missed Calls was not installed: smc migrate refused or failed (its message is above)"

echo "== user and database grants"
getent group "$SERVICE_USER" >/dev/null || groupadd --system "$SERVICE_USER"
id "$SERVICE_USER" >/dev/null 2>&1 || useradd --system --gid "$SERVICE_USER" --home-dir /nonexistent --shell /usr/sbin/nologin "$SERVICE_USER"
# The voicemail spool (did the caller leave a message?) belongs to asterisk.
getent group asterisk >/dev/null && usermod -a -G asterisk "$SERVICE_USER"
# The PHP glue (www-data) reads server.listen and server.secret to sign what it asks the service.
usermod -a -G "$SERVICE_USER" www-data
chown root:"$SERVICE_USER" "$ETC" "$CONFIG"
chmod 0750 "$ETC"
chmod 0640 "$CONFIG"
# The journal's key: read by the service alone (not by www-data, which reads the config).
chown "$SERVICE_USER":"$SERVICE_USER" "$ETC/smartmissedcalls-audit.key"
chmod 0600 "$ETC/smartmissedcalls-audit.key"
"${MYSQL[@]}" <<SQL
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$DB_USER'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
GRANT SELECT ON \`asterisk\`.\`cdr\` TO '$DB_USER'@'localhost';
GRANT SELECT ON \`ombutel\`.* TO '$DB_USER'@'localhost';
SQL
# CEL is optional on VitalPBX: grant it when the table exists.
if "${MYSQL[@]}" -e 'SELECT 1 FROM asterisk.cel LIMIT 1' >/dev/null 2>&1; then
  "${MYSQL[@]}" -e "GRANT SELECT ON \`asterisk\`.\`cel\` TO '$DB_USER'@'localhost'"
fi

echo "== files"
mkdir -p "$DEST"
cp -a "$SRC/build" "$SRC/views" "$SRC/assets" "$SRC/i18n" "$SRC/SmcProxy.php" "$SRC/vitalpbx" "$DEST/"

echo "== service"
install -m 0644 "$DEST/vitalpbx/smartmissedcalls.service" /etc/systemd/system/smartmissedcalls.service
systemctl daemon-reload
systemctl enable smartmissedcalls.service
systemctl restart smartmissedcalls.service

echo "== web page"
if [ -d /etc/nginx/pbx-addons ]; then
  SOCKET="$(ls /run/php/php*-fpm.sock 2>/dev/null | head -1)"
  [ -n "$SOCKET" ] || die "no PHP-FPM socket in /run/php: is php-fpm installed and running?"
  sed "s#__PHP_FPM_SOCKET__#$SOCKET#" "$DEST/vitalpbx/nginx-smartmissedcalls.conf" > /etc/nginx/pbx-addons/smartmissedcalls.conf
  nginx -t && systemctl reload nginx
  systemctl restart "$(basename "$SOCKET" .sock)" || true
elif [ -d /etc/apache2/conf-available ]; then
  install -m 0644 "$DEST/vitalpbx/apache-smartmissedcalls.conf" /etc/apache2/conf-available/smartmissedcalls.conf
  a2enconf -q smartmissedcalls
  apachectl configtest && systemctl reload apache2
else
  die "neither /etc/nginx/pbx-addons (VitalPBX 4.5) nor Apache (VitalPBX 4) found"
fi

echo "== panel menu and privileges (ombutel)"
"${MYSQL[@]}" ombutel < "$DEST/vitalpbx/register.sql"

echo
echo "Installed. Create the accounts tenants log in with, e.g.:"
echo "  echo 'a long password' | node $DEST/build/smc.js --config $CONFIG users add alice --tenant vitalpbx --role admin"
echo "Then open https://<this PBX>/smartmissedcalls/ ; check with: node $DEST/build/smc.js --config $CONFIG doctor"
