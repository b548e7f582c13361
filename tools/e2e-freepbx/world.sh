#!/bin/bash
# The "world" Asterisk of the FreePBX 17 lab: phones 101-107 (registered from 127.0.0.2:5070) and
# the carrier (127.0.0.3:5070), configured from world-conf/ next to this script into $LAB/world.
# usage: LAB=/var/tmp/fpbx-lab world.sh start|stop|status
set -eu
LAB=${LAB:?set LAB to the lab folder}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$LAB/world
WA="asterisk -C $W/etc/asterisk.conf -rx"
case "${1:-}" in
  start)
    if [ -f "$W/run/asterisk.pid" ] && kill -0 "$(cat "$W/run/asterisk.pid")" 2>/dev/null; then
      cp "$HERE"/world-conf/extensions.conf "$W/etc/" && $WA 'dialplan reload' >/dev/null   # the plan may have changed
    else
      mkdir -p "$W/etc" "$W/lib" "$W/spool" "$W/run" "$W/log"
      cp "$HERE"/world-conf/* "$W/etc/" && sed -i "s|@LAB@|$LAB|g" "$W"/etc/*.conf
      /usr/sbin/asterisk -C "$W/etc/asterisk.conf"
      for _ in $(seq 20); do $WA 'core waitfullybooted' >/dev/null 2>&1 && break; sleep 1; done
    fi
    for _ in $(seq 30); do                        # wait until FreePBX sees every phone registered
      n=$(asterisk -rx 'pjsip show contacts' | grep -cE 'Contact: +10[1-7]/sip:10[1-7]@127\.0\.0\.2:5070' || true)
      [ "$n" -ge 7 ] && { echo "world up: 7 phones registered"; exit 0; }
      sleep 2
    done
    echo "world up, but only $n of 7 phones registered" >&2; exit 1 ;;
  stop) [ -f "$W/run/asterisk.pid" ] && $WA 'core stop now' || true ;;
  status) $WA 'pjsip show registrations' ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
