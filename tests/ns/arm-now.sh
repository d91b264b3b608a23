#!/bin/sh
# offroot arm / disarm for real, on this machine's own root, in private
# mount, PID and network namespaces: the package's script copies the
# emergency environment into a tmpfs, starts the real dropbear in it, and
# an ssh login with the test key reaches it on the loopback.
#
# usage: arm-now.sh SOURCE_DIR BIN_DIR        (as root)
#   re-runs itself inside `unshare --mount --pid --fork --net --mount-proc`
set -eu

fail() { echo "arm-now: $*" >&2; exit 1; }

if [ "${ARM_NOW_INSIDE:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || fail "needs root (namespaces, mounts)"
    for tool in unshare dropbear dropbearkey ssh ssh-keygen busybox mountpoint setsid; do
        command -v "$tool" >/dev/null || fail "$tool not found (dropbear-bin, openssh-client, busybox, util-linux)"
    done
    ARM_NOW_INSIDE=1 exec unshare --mount --pid --fork --net --mount-proc --propagation private -- \
        timeout --kill-after=5 120 /bin/sh "$0" "$@"
fi

src=$(cd "$1" && pwd)
bin=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/offroot-arm.XXXXXX)
failed=0
check() {
    description=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok - $description"; else echo "not ok - $description"; failed=1; fi
}
cleanup() {
    OFFROOT_SHARE=$src/hooks "$bin/offroot" disarm >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# A private /run, as a booted host has: the environment goes under it.
mount -t tmpfs -o mode=0755 tmpfs /run
ip link set lo up

# The package's configuration, secrets and binaries from the build tree.
etc=$work/etc
mkdir -p "$etc"
cp "$src/etc/offroot.conf" "$etc/"
sed -i 's/^PORT=.*/PORT=1022/' "$etc/offroot.conf"
# Small caps, quick to fill.
sed -i 's/^SESSION_TMP_SIZE=.*/SESSION_TMP_SIZE=8m/; s/^SESSION_HOME_SIZE=.*/SESSION_HOME_SIZE=2m/' "$etc/offroot.conf"
dropbearkey -t ed25519 -f "$etc/dropbear_ed25519_host_key" >/dev/null 2>&1
ssh-keygen -q -t ed25519 -N '' -f "$work/admin_key"
export OFFROOT_ETC=$etc OFFROOT_SHARE=$src/hooks OFFROOT_SOURCE_SBIN=$bin OFFROOT_SOURCE_LIB=$bin
export PATH="$bin:/usr/sbin:/usr/bin:/sbin:/bin"
[ -x "$bin/run-init" ] || fail "$bin/run-init missing: build first"

status() { offroot status --json; }
login() {
    ssh -n -p 1022 -i "$work/admin_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR root@127.0.0.1 "$@"
}

# The command line: a device given without --root is a usage error, never
# a return onto the recorded root.
rc=0; offroot return /dev/vdb >/dev/null 2>&1 || rc=$?
check "offroot return DEVICE without --root: usage error (2)" test "$rc" = 2
rc=0; offroot arm now >/dev/null 2>&1 || rc=$?
check "a stray word after a command: usage error (2)" test "$rc" = 2

# A size that is not one (0 would mean no limit to tmpfs): refused.
cp "$etc/offroot.conf" "$work/offroot.conf.good"
sed -i 's/^SESSION_TMP_SIZE=.*/SESSION_TMP_SIZE=0/' "$etc/offroot.conf"
out=$(offroot arm 2>&1) && fail "arm with SESSION_TMP_SIZE=0 succeeded: $out"
check "arm with SESSION_TMP_SIZE=0 names it" sh -c "echo \"\$1\" | grep -q 'SESSION_TMP_SIZE=0 in .* is not a size'" _ "$out"
cp "$work/offroot.conf.good" "$etc/offroot.conf"

# No key: refused with the reason, nothing mounted.
: > "$etc/authorized_keys"
out=$(offroot arm 2>&1) && fail "arm without a key succeeded: $out"
check "arm without a key names the missing key" sh -c "echo \"\$1\" | grep -q 'cannot arm: no key in'" _ "$out"
check "arm without a key left nothing mounted" sh -c '! mountpoint -q /run/offroot/rootfs'
check "status still says no emergency environment" sh -c 'offroot status --json | grep -q NO-EMERGENCY-ENVIRONMENT'

cat "$work/admin_key.pub" > "$etc/authorized_keys"
out=$(offroot arm 2>&1) || fail "offroot arm failed: $out"
echo "$out"
check "arm says it armed on the port" sh -c "echo \"\$1\" | grep -q 'armed without a reboot: emergency ssh on port 1022'" _ "$out"
check "the environment is a tmpfs of its own" sh -c 'findmnt -n -o FSTYPE /run/offroot/rootfs | grep -qx tmpfs'
check "status: NORMAL" sh -c 'offroot status --json | grep -q "\"state\":\"NORMAL\""'
check "status: root switch tmpfs" sh -c 'offroot status --json | grep -q "\"root_switch\":\"tmpfs\""'
check "status names the tmpfs switch" sh -c 'offroot status | grep -q "^root switch: tmpfs"'
check "the emergency dropbear runs as @dropbear" sh -c \
    'tr "\0" " " < /proc/$(cat /run/offroot/dropbear.pid)/cmdline | grep -q "^@dropbear "'
check "the host key and the authorized keys are 0600" sh -c \
    '[ "$(stat -c %a /run/offroot/rootfs/etc/offroot/dropbear_ed25519_host_key)" = 600 ] &&
     [ "$(stat -c %a /run/offroot/rootfs/var/lib/offroot/.ssh/authorized_keys)" = 600 ]'
bytes=$(status | sed -n 's/.*"rootfs_bytes":\([0-9]*\).*/\1/p')
echo "# RAM held by the emergency tmpfs: $bytes bytes"
check "status reports the RAM the environment holds" test -n "$bytes"

# The admin's session: in the environment, busybox and offroot; e2fsck
# comes into RAM at enter, not at arm.
check "ssh -p 1022 with the key logs in" login true
session_status=$(login offroot status --json 2>&1 || true)
check "the session runs in the emergency environment" sh -c "echo '$session_status' | grep -q '\"running_in_rootfs\":true'"
check "the session's offroot runs" login offroot --version
check "e2fsck is not resident in the armed environment" login test ! -e /usr/sbin/e2fsck
check "the session sees the real root through PID 1" login test -e /proc/1/root/etc/os-release
check "a password is refused" sh -c \
    "! ssh -n -p 1022 -o BatchMode=yes -o PubkeyAuthentication=no -o StrictHostKeyChecking=no \
       -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 root@127.0.0.1 true"

# The sessions' writable space: /tmp and home are tmpfs mounts of their
# own, capped; check counts their room; a copy into them ends in ENOSPC.
# (busybox has no mountpoint applet: the session's mount table says it.)
check "the session's /tmp is a tmpfs of its own" login \
    'awk "\$5 == \"/tmp\" { found = 1 } END { exit !found }" /proc/self/mountinfo && [ "$(stat -f -c %T /tmp)" = tmpfs ]'
check "the session's home is a tmpfs of its own" login \
    'awk "\$5 == \"$HOME\" { found = 1 } END { exit !found }" /proc/self/mountinfo && [ "$(stat -f -c %T "$HOME")" = tmpfs ]'
check "the session's /tmp is writable by all, sticky" login '[ "$(stat -c %a /tmp)" = 1777 ]'
check "the home kept the authorized keys, 0600, in a 0700 home" login \
    '[ "$(stat -c %a "$HOME")" = 700 ] && [ "$(stat -c %a "$HOME/.ssh/authorized_keys")" = 600 ]'
check_json=$(offroot check --json 2>/dev/null || true)
session_kib=$(echo "$check_json" | sed -n 's/.*"session_kib":\([0-9]*\).*/\1/p')
echo "# check counts ${session_kib:-nothing} KiB for the sessions' /tmp and home"
check "check counts the room of the capped /tmp and home (8 + 2 MiB)" \
    sh -c "[ '${session_kib:-0}' -gt 9000 ] && [ '${session_kib:-0}' -le 10240 ]"
fill=$(login 'dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1; echo "rc=$?"; stat -c "size=%s" /tmp/fill' || true)
echo "$fill" | sed 's/^/# \/tmp fill: /'
check "a copy into /tmp fails with ENOSPC" sh -c "echo \"\$1\" | grep -q 'No space left on device'" _ "$fill"
check "a copy into /tmp fails, not succeeds (dd's exit status)" sh -c "echo \"\$1\" | grep -q '^rc=[1-9]'" _ "$fill"
check "the copy into /tmp stopped at the 8 MiB cap" sh -c \
    "[ \"\$(echo \"\$1\" | sed -n 's/^size=//p')\" -le 8388608 ]" _ "$fill"
home_fill=$(login 'dd if=/dev/zero of="$HOME/fill" bs=1M count=16 2>&1; echo "rc=$?"' || true)
check "a copy into home fails with ENOSPC at its 2 MiB cap" sh -c "echo \"\$1\" | grep -q 'No space left on device'" _ "$home_fill"
check "with /tmp and home full, 1022 still logs in" login true
login 'rm -f /tmp/fill "$HOME/fill"' >/dev/null 2>&1 || true

# The watcher: it runs under its '@' name, shields the listener from the
# OOM killer, and starts dropbear again when it dies.
watcher=$(cat /run/offroot/watch.pid 2>/dev/null || true)
check "the watcher runs as @offroot-watch" sh -c "tr '\0' ' ' < /proc/$watcher/cmdline | grep -q '^@offroot-watch watch-sshd'"
listener=$(cat /run/offroot/dropbear.pid)
# What the watcher costs beside the files of the environment (its text is
# the environment's offroot, shared): its private pages.
private_kib() { awk '/^(Private_Dirty|Anonymous):/ { v[$1] = $2 } END { printf "%d dirty, %d anonymous", v["Private_Dirty:"], v["Anonymous:"] }' "/proc/$1/smaps_rollup" 2>/dev/null; }
echo "# private RAM (KiB): watcher $(private_kib "$watcher"); listener $(private_kib "$listener")"
# Lowering oom_score_adj needs CAP_SYS_RESOURCE, which some sandboxes
# withhold from root: then the VM tests (tests/vm/arm-now.sh) prove it.
if grep -q '^CapEff:' /proc/self/status && [ $(( 0x$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) >> 24 & 1 )) = 1 ]; then
    sleep 3
    check "the listener is shielded from the OOM killer" sh -c "[ \"\$(cat /proc/$listener/oom_score_adj)\" = -1000 ]"
    check "the watcher is shielded from the OOM killer" sh -c "[ \"\$(cat /proc/$watcher/oom_score_adj)\" = -1000 ]"
    # dropbear forks each session from the listener: they inherit it.
    echo "# a session's oom_score_adj: $(login cat /proc/self/oom_score_adj 2>&1)"
else
    echo "# skip - the OOM shield: this machine's root lacks CAP_SYS_RESOURCE (checked by tests/vm/arm-now.sh)"
fi
kill -KILL "$listener"
restarted() { new=$(cat /run/offroot/dropbear.pid 2>/dev/null) && [ "$new" != "$listener" ] && login true; }
tries=0; until restarted || [ "$tries" -ge 50 ]; do tries=$((tries + 1)); sleep 0.2; done
check "dropbear killed: started again by the watcher, 1022 logs in (after $((tries / 5)) s)" restarted

# The watcher killed in NORMAL: nothing restarts it (PID 1 does only in
# DETACHED); check says so, and offroot watch-sshd in the 1022 session
# starts it again.
kill -KILL "$watcher"
# PID 1 here (timeout) reaps nobody: a zombie counts as gone.
gone() { ! kill -0 "$1" 2>/dev/null || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }
tries=0; until gone "$watcher" || [ "$tries" -ge 25 ]; do tries=$((tries + 1)); sleep 0.2; done
check "the watcher killed: check notes that nothing would start dropbear again" sh -c \
    'offroot check --json 2>/dev/null | grep -q "watcher of the emergency dropbear (@offroot-watch) is not running"'
check "offroot watch-sshd in the 1022 session starts it again" login offroot watch-sshd
new_watcher() { new=$(cat /run/offroot/watch.pid 2>/dev/null) && [ "$new" != "$watcher" ] &&
    tr '\0' ' ' < "/proc/$new/cmdline" | grep -q '^@offroot-watch'; }
tries=0; until new_watcher || [ "$tries" -ge 25 ]; do tries=$((tries + 1)); sleep 0.2; done
check "the new watcher runs" new_watcher
check "with it, check notes nothing about the watcher" sh -c \
    '! offroot check --json 2>/dev/null | grep -q "@offroot-watch) is not running"'
watcher=$(cat /run/offroot/watch.pid)

out=$(offroot arm 2>&1) || true
check "a second arm changes nothing and says so" sh -c "echo \"\$1\" | grep -q 'already armed'" _ "$out"
refusal=$(login offroot disarm 2>&1) && fail "disarm from the emergency session succeeded: $refusal"
check "disarm from the emergency session is refused, saying why" sh -c \
    "echo \"\$1\" | grep -q 'from a normal session'" _ "$refusal"
check "still NORMAL after the refused disarm" sh -c 'offroot status --json | grep -q "\"state\":\"NORMAL\""'

out=$(offroot disarm 2>&1) || fail "offroot disarm failed: $out"
echo "$out"
check "disarm: no emergency environment" sh -c 'offroot status --json | grep -q NO-EMERGENCY-ENVIRONMENT'
check "disarm: the tmpfs is gone" sh -c '! mountpoint -q /run/offroot/rootfs'
check "disarm: nothing answers on 1022" sh -c '! ssh -n -p 1022 -o BatchMode=yes -o ConnectTimeout=3 root@127.0.0.1 true'
check "disarm: the watcher is gone too" gone "$watcher"
check "disarm again: nothing to do" sh -c 'offroot disarm | grep -q "not armed"'

[ "$failed" = 0 ] || fail "a check failed"
echo "arm-now: passed"
