#!/bin/sh
# offroot, dracut: stages the emergency environment in the image being
# built, at INITDIR/usr/lib/offroot/env, with offroot-functions' own
# populate (the one `offroot arm` copies into its tmpfs), and records
# INITDIR/etc/offroot/armed. Prints why it is not armed and exits 0 when it
# must not be (no key, broken configuration, ...); prints nothing when it
# is; any other failure exits non-zero (the module then leaves it unarmed).
#
# usage: offroot-stage.sh INITDIR MODE MODDIR    (MODE: systemd or shell)
set -eu

initdir=$1
mode=$2
moddir=$3
OFFROOT_SHARE=${OFFROOT_SHARE:-/usr/share/offroot}
# shellcheck source=../../hooks/offroot-functions
. "$OFFROOT_SHARE/offroot-functions"

offroot_read_conf
reason=$(offroot_not_armed_reason)
if [ -n "$reason" ]; then
    printf '%s\n' "$reason"
    exit 0
fi

# Its messages (PROGRAMS not found) go to the build's output, not to ours.
OFFROOT_ENV_DIR="$initdir/usr/lib/offroot/env"
rm -rf "$OFFROOT_ENV_DIR"
mkdir -p "$OFFROOT_ENV_DIR"
offroot_populate_environment >&2
# Run from the tmpfs after systemd's switch-root (offroot-emergency.service).
cp "$moddir/offroot-host-start.sh" "$OFFROOT_ENV_DIR$OFFROOT_LIB/dracut-host-start"
chmod 0755 "$OFFROOT_ENV_DIR$OFFROOT_LIB/dracut-host-start"

# What the boot needs to know, and that the image is armed.
{
    echo "PORT=$PORT"
    echo "MODE=$mode"
    echo "SESSION_TMP_SIZE=$SESSION_TMP_SIZE"
    echo "SESSION_HOME_SIZE=$SESSION_HOME_SIZE"
} > "$initdir/etc/offroot/armed"
rm -f "$initdir/etc/offroot/not-armed"
