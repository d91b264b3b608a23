#!/bin/sh
# offroot import-log for real: the real binary sends a cycle's kernel
# records into real AF_UNIX datagram sockets, one at journald's own path
# (/run/systemd/journal/socket, on a tmpfs mounted over /run in a private
# mount namespace) and one playing /dev/log (/dev is the host's devtmpfs
# even in a private namespace, so that one sits in the scratch directory,
# named by OFFROOT_SYSLOG_SOCKET). Each import runs twice: every record of
# the range arrives once, with its fields, and the second run sends nothing.
# The last part reads the real /dev/kmsg: lines written there are imported
# once as well.
#
# usage: journal-import.sh OFFROOT NS_LOG_SINK (as root)
set -eu

if [ -z "${OFFROOT_NS_JOURNAL_INSIDE:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "journal-import: needs root (a private mount namespace)" >&2; exit 1; }
    exec env OFFROOT_NS_JOURNAL_INSIDE=1 unshare --mount --propagation private -- /bin/sh "$0" "$@"
fi

offroot=$1
sink=$2
work=$(mktemp -d /tmp/offroot-journal.XXXXXX)
listeners=""
cleanup() {
    for pid in $listeners; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

. "$(dirname "$0")/checks.sh"

# listen SOCKET DIR: a stand-in daemon, its datagrams in DIR/1, DIR/2, ...
listen() {
    mkdir -p "$2"
    "$sink" listen "$1" "$2" &
    listeners="$listeners $!"
    i=0
    while [ ! -e "$2/ready" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    [ -e "$2/ready" ] || { echo "not ok - the stand-in on $1 never bound"; exit 1; }
}
received() { find "$1" -type f ! -name ready | wc -l | tr -d ' '; }
# has DIR TEXT: how many datagrams hold TEXT
has() { grep -la -- "$2" "$1"/[0-9]* 2>/dev/null | wc -l | tr -d ' '; }
# field DIR TEXT FIELD: FIELD=... of the one datagram holding TEXT
field() { grep -la -- "$2" "$1"/[0-9]* | head -n 1 | xargs grep -a "^$3=" | sed "s/^$3=//"; }

mount -t tmpfs -o size=8m,mode=0755 tmpfs /run
mkdir -p /run/systemd/journal

# A cycle as the kernel's buffer holds it (read(2) of /dev/kmsg, record
# after record): one before the range, enter's lines, the kernel's with a
# device, offroot-init's with an escaped newline, return's, and the first
# one journald reads itself (TO).
cat > "$work/kmsg" <<'EOF'
6,99,90000000,-;kernel line before the range
14,100,100000000,-;offroot: enter: 9/14 kill-leftovers: journald among them
6,101,100500000,-;EXT4-fs (vda1): unmounting filesystem.
 SUBSYSTEM=block
 DEVICE=b254:1
14,102,101000000,-;offroot: DETACHED: /dev/vda1 is free
13,103,150000000,-;offroot-init: first line\x0asecond line
14,104,200000000,-;offroot: return: 1/9 check-device
14,105,201000000,-;offroot: return: journald reads this one itself
EOF
record=$work/journal-import
printf 'ENTER=98\nDETACHED=102\nRETURN=104\nFROM=100\nTO=105\nIMPORTED=0\nSINK=journal\n' > "$record"
export OFFROOT_KMSG="$work/kmsg" OFFROOT_CYCLE_RECORD="$record" OFFROOT_SYSLOG_SOCKET="$work/log"

# --- nobody listens yet: a warning, exit 1, and the record untouched.
set +e
out=$("$offroot" import-log 2>&1)
status=$?
set -e
check_eq "no journal: import-log exits 1" 1 "$status"
check "no journal: one clear warning line naming the socket" sh -c \
    'printf "%s\n" "$1" | grep -q "warning.*/run/systemd/journal/socket.*No such file or directory"' sh "$out"
check_eq "no journal: nothing marked imported" 0 "$(sed -n 's/^IMPORTED=//p' "$record")"

# --- the journal.
listen /run/systemd/journal/socket "$work/journal"
out=$("$offroot" import-log)
check "journal: the first run reports 5 records" sh -c 'printf "%s\n" "$1" | grep -q "5 records of the cycle (kernel sequence 100 to 104) sent to the journal"' sh "$out"
out=$("$offroot" import-log)
check "journal: the second run imports nothing" sh -c 'printf "%s\n" "$1" | grep -q "in the journal already, nothing to import"' sh "$out"
check_eq "journal: 5 datagrams in all" 5 "$(received "$work/journal")"
for text in "kill-leftovers: journald among them" "EXT4-fs (vda1): unmounting" "DETACHED: /dev/vda1 is free" \
    "second line" "return: 1/9 check-device"; do
    check_eq "journal: \"$text\" arrived once" 1 "$(has "$work/journal" "$text")"
done
check_eq "journal: nothing from before the range" 0 "$(has "$work/journal" "before the range")"
check_eq "journal: nothing journald reads itself" 0 "$(has "$work/journal" "journald reads this one")"
check_eq "journal: enter's line is offroot's" offroot "$(field "$work/journal" kill-leftovers SYSLOG_IDENTIFIER)"
check_eq "journal: enter's line in phase enter" enter "$(field "$work/journal" kill-leftovers OFFROOT_PHASE)"
check_eq "journal: the kernel's line is the kernel's" kernel "$(field "$work/journal" EXT4-fs SYSLOG_IDENTIFIER)"
check_eq "journal: the kernel's line in phase enter" enter "$(field "$work/journal" EXT4-fs OFFROOT_PHASE)"
check_eq "journal: DETACHED's line in phase detached" detached "$(field "$work/journal" "vda1 is free" OFFROOT_PHASE)"
check_eq "journal: offroot-init's line is offroot-init's" offroot-init "$(field "$work/journal" "second line" SYSLOG_IDENTIFIER)"
check_eq "journal: offroot-init's line at its notice level" 5 "$(field "$work/journal" "second line" PRIORITY)"
check_eq "journal: return's line in phase return" return "$(field "$work/journal" check-device OFFROOT_PHASE)"
check_eq "journal: return's line keeps its kernel sequence" 104 "$(field "$work/journal" check-device OFFROOT_KMSG_SEQ)"
check "journal: return's line keeps its original time" sh -c \
    'case "$1" in 20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z) exit 0;; esac; exit 1' sh \
    "$(field "$work/journal" check-device OFFROOT_TIME)"
check "journal: the message says the phase and the time" sh -c \
    'grep -laq "^MESSAGE=\[return [0-2][0-9]:[0-5][0-9]:[0-5][0-9]\] return: 1/9 check-device$" "$1"/[0-9]*' sh "$work/journal"
check_eq "journal: the record says all is imported" 105 "$(sed -n 's/^IMPORTED=//p' "$record")"

# --- syslog (sysvinit): offroot's own lines of the whole cycle; the
# kernel's come through rsyslog's imklog.
printf 'ENTER=98\nDETACHED=102\nRETURN=104\nFROM=98\nTO=105\nIMPORTED=0\nSINK=syslog\n' > "$record"
listen "$work/log" "$work/syslog"
"$offroot" import-log > "$work/out"
check "syslog: the first run reports 4 records" grep -q "4 records of the cycle (kernel sequence 98 to 104) sent to syslog" "$work/out"
"$offroot" import-log > "$work/out"
check "syslog: the second run imports nothing" grep -q "in syslog already, nothing to import" "$work/out"
check_eq "syslog: 4 datagrams in all" 4 "$(received "$work/syslog")"
check_eq "syslog: none of the kernel's" 0 "$(has "$work/syslog" "EXT4-fs")"
check "syslog: enter's line, facility daemon, RFC 3164" grep -Eqa \
    '^<30>[A-Z][a-z][a-z] [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] offroot: \[enter\] enter: 9/14 kill-leftovers: journald among them$' \
    "$work"/syslog/1
for text in "kill-leftovers" "vda1 is free" "second line" "check-device"; do
    check_eq "syslog: \"$text\" arrived once" 1 "$(has "$work/syslog" "$text")"
done
check "syslog: offroot-init's two lines in one" grep -qa '^<29>.* offroot-init: \[detached\] first line second line$' \
    "$work"/syslog/*

# --- the real kernel buffer: lines written to /dev/kmsg, imported once.
start=$("$sink" kmsg-next)
for i in 1 2 3; do echo "<14>offroot: ns journal-import marker $i of $$" > /dev/kmsg; done
end=$("$sink" kmsg-next)
printf 'ENTER=%s\nDETACHED=0\nRETURN=0\nFROM=%s\nTO=%s\nIMPORTED=0\nSINK=journal\n' "$start" "$start" "$end" > "$record"
rm -f "$work"/journal/[0-9]*
env -u OFFROOT_KMSG "$offroot" import-log > "$work/out"
env -u OFFROOT_KMSG "$offroot" import-log >> "$work/out"
cat "$work/out"
for i in 1 2 3; do
    check_eq "/dev/kmsg: marker $i arrived once" 1 "$(has "$work/journal" "marker $i of $$")"
done
check_eq "/dev/kmsg: the markers are offroot's" offroot "$(field "$work/journal" "marker 1 of $$" SYSLOG_IDENTIFIER)"

[ "$failed" = 0 ] || { echo "journal-import: a check failed"; exit 1; }
echo "journal-import: passed"
