#!/bin/sh
# offroot, dracut: at boot, the emergency environment the image holds
# (staged by offroot-stage.sh at /usr/lib/offroot/env) copied into a tmpfs
# of its own at /run/offroot/rootfs, and the emergency dropbear started in
# it, as `offroot arm` does on a running system (the tmpfs switch). The
# tmpfs is its own mount: dracut's shell init mounts /run noexec, this one
# allows exec, and its size is capped. It goes into the real root with /run.
# Run by offroot-initrd.service (systemd initrd) or the pre-udev hook
# (shell init). Exit 0 when started or deliberately not started, 1 on
# failure; the boot goes on either way.

ENV_DIR=/run/offroot/rootfs
STAGED=/usr/lib/offroot/env
# The environment's own cap. The sessions' writable space (root's home,
# /tmp) has tmpfs mounts of its own inside it, capped apart
# (SESSION_TMP_SIZE, SESSION_HOME_SIZE: offroot_mount_session_space), so
# that a copy into /tmp cannot take the room enter needs for the tools.
ENV_SIZE=64m
HOST_UNIT=offroot-emergency.service

for word in $(cat /proc/cmdline 2>/dev/null); do
    case "$word" in
        offroot=off|offroot=0|offroot=no|offroot=false)
            echo "offroot: disabled by $word on the kernel command line"
            exit 0
            ;;
    esac
done

if [ ! -r /etc/offroot/armed ]; then
    echo "offroot: not armed in this image: $(cat /etc/offroot/not-armed 2>/dev/null || echo unknown reason)"
    exit 0
fi

# shellcheck disable=SC1091
. /etc/offroot/armed
# shellcheck disable=SC1091
. /usr/lib/offroot/offroot-functions

if mountpoint -q "$ENV_DIR"; then
    echo "offroot: $ENV_DIR is already mounted: nothing to do"
    exit 0
fi

# Undoes everything on failure: the boot goes on as a stock one.
failed() {
    echo "offroot: warning: $*; this boot goes on without the emergency environment" >&2
    if mountpoint -q "$ENV_DIR"; then
        umount -R "$ENV_DIR" 2>/dev/null || umount -R -l "$ENV_DIR" 2>/dev/null
    fi
    exit 1
}

mkdir -p /run/offroot "$ENV_DIR" || failed "cannot make $ENV_DIR"
chmod 0700 "$ENV_DIR"
mount -t tmpfs -o "mode=0755,size=$ENV_SIZE" offroot-emergency "$ENV_DIR" || failed "cannot mount a tmpfs on $ENV_DIR"
# Nothing mounted in here may propagate into other mounts' peers.
mount --make-private "$ENV_DIR" || failed "cannot make $ENV_DIR private"
cp -a "$STAGED/." "$ENV_DIR/" || failed "cannot copy the emergency environment into $ENV_DIR"

# In the systemd initrd dropbear stays in the unit's cgroup, so that
# stopping the unit before switch-root takes it down; under the shell init
# there is no systemd to escape.
# The keys are found in the tmpfs (the image has them there only).
OFFROOT_ETC=$ENV_DIR/etc/offroot offroot_start_environment "$ENV_DIR" "$PORT" no ||
    failed "dropbear did not start on port $PORT"

if [ "${MODE:-}" = systemd ]; then
    # The real root's systemd starts it again from this tmpfs
    # (offroot-emergency.service): the unit file goes with /run.
    mkdir -p /run/systemd/system/sysinit.target.wants &&
        cp "/usr/lib/offroot/$HOST_UNIT" "/run/systemd/system/$HOST_UNIT" &&
        ln -sf "../$HOST_UNIT" "/run/systemd/system/sysinit.target.wants/$HOST_UNIT" ||
        echo "offroot: warning: no $HOST_UNIT for the real root: 1022 ends at switch-root" >&2
fi
echo "offroot: emergency ssh on port $PORT (root switch: tmpfs)"
exit 0
