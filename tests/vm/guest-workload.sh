# Sourced after lib.sh and checks.sh: what a guest runs and keeps on its
# disk while offroot takes the disk away, for the tests to see survive.
#
#   install_test_writer NAME INIT LOG   a service that keeps /srv/writer.log
#                                       open for writing and writes
#                                       "clean-stop" when it is stopped
#                                       cleanly (a unit, or an init script
#                                       on sysvinit); into the image
#   test_writer_runs NAME INIT          it runs (asked over port 22)
#   write_test_data NAME                32 MiB of random data and a copy of
#                                       /usr/bin in /srv/data, with their
#                                       checksums in /srv/sums, synced
#   test_data_intact NAME PORT          every checksum matches
#   hold_session NAME OUT               the admin's session on 1022: prints
#                                       the time every second into OUT on
#                                       the host; its pid in $session

install_test_writer() {
    local name=$1 init=$2 log=$3 writer initscript
    writer='#!/bin/sh
exec 3>>/srv/writer.log
trap "echo clean-stop >&3; exit 0" TERM
while :; do echo tick >&3; sleep 1 & wait $!; done'
    if [ "$init" = systemd ]; then
        vm_image_run "$name" "set -e
            mkdir -p /srv
            printf '%s\n' '$writer' > /usr/local/sbin/offroot-test-writer
            chmod 755 /usr/local/sbin/offroot-test-writer
            printf '[Service]\nExecStart=/usr/local/sbin/offroot-test-writer\n[Install]\nWantedBy=multi-user.target\n' \
                > /etc/systemd/system/offroot-test-writer.service
            systemctl enable offroot-test-writer.service 2>&1" > "$log" 2>&1 || { cat "$log"; return 1; }
    else
        initscript='#!/bin/sh
### BEGIN INIT INFO
# Provides:          offroot-test-writer
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: keeps a file open for writing (offroot test)
### END INIT INFO
p=/run/offroot-test-writer.pid
case "$1" in
start) start-stop-daemon --start --background --make-pidfile --pidfile $p --exec /usr/local/sbin/offroot-test-writer ;;
stop) start-stop-daemon --stop --pidfile $p --retry TERM/10 --remove-pidfile ;;
status) start-stop-daemon --status --pidfile $p ;;
esac'
        vm_image_run "$name" "set -e
            mkdir -p /srv
            printf '%s\n' '$writer' > /usr/local/sbin/offroot-test-writer
            chmod 755 /usr/local/sbin/offroot-test-writer
            printf '%s\n' '$initscript' > /etc/init.d/offroot-test-writer
            chmod 755 /etc/init.d/offroot-test-writer
            update-rc.d offroot-test-writer defaults 2>&1" > "$log" 2>&1 || { cat "$log"; return 1; }
    fi
}

test_writer_runs() {
    if [ "$2" = systemd ]; then
        vm_ssh "$1" 22 systemctl is-active --quiet offroot-test-writer
    else
        vm_ssh "$1" 22 /etc/init.d/offroot-test-writer status
    fi
}

write_test_data() {
    vm_ssh "$1" 22 'set -e; mkdir -p /srv/data; for i in 1 2 3 4; do head -c 8M /dev/urandom > /srv/data/file$i; done
        cp -a /usr/bin /srv/data/bin-copy; cd /srv/data; find . -type f -exec sha256sum {} + | sort -k2 > /srv/sums; sync'
}

test_data_intact() { vm_ssh "$1" "$2" 'cd /srv/data && sha256sum --quiet -c /srv/sums'; }

hold_session() {
    local port
    port=$(vm_port "$1" 1022) || return 1
    ssh -F /dev/null -i "$(vm_key)" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o LogLevel=ERROR -o ServerAliveInterval=5 -o ServerAliveCountMax=12 root@127.0.0.1 \
        'while :; do date +%s; sleep 1; done' > "$2" 2>&1 < /dev/null &
    session=$!
}
