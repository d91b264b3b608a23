#!/bin/bash
# The Ansible collection (ansible/) end to end: ansible-playbook, from this
# machine's ansible-core, drives two guests at once, one systemd and one
# sysvinit, as a fleet of two:
#   install   the install role: the .deb copied and installed with apt, the
#             authorized keys, `offroot arm`, 1022 checked against the
#             emergency dropbear's host key, which goes into the known_hosts
#             the emergency connection then uses with StrictHostKeyChecking=yes
#             (run twice: the second run changes nothing)
#   window 1  both in one batch (serial 2): check, enter over 1022, e2fsck -f
#             and resize2fs of the bare guest disk /dev/vda to 1800M over
#             1022 (raw: no Python there), return --fsck, verify (NORMAL, sshd,
#             the services that ran before); timed
#   window 2  the same work one host after the other (serial 1, shrink to
#             1700M): the two cycles one after the other, timed, against window 1
#   window 3  the sysvinit guest made to fail its check (a process with
#             argv[0] "@holder" running from the root, which check refuses on):
#             it is left untouched (same sshd, never entered) and reported,
#             while the systemd guest goes through its window
# Guests: the harness's images (tests/vm/README.md) with python3 and
# python3-apt added (Ansible's modules on port 22 need them, as on any
# managed Debian host); nothing of offroot is in them before the install role.
#
#   tests/vm/fleet.sh DEB [SUITE]    (default bookworm)
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# Two guests that each rebuild their initramfs under TCG (the package's
# postinst) outlive the harness's default hour when others' VMs share the cores.
export OFFROOT_VM_MAX_LIFETIME=${OFFROOT_VM_MAX_LIFETIME:-7200}
. "$here/lib.sh"

deb=${1:?usage: fleet.sh DEB [SUITE]}
suite=${2:-bookworm}
boot_timeout=${OFFROOT_VM_BOOT_TIMEOUT:-300}
inits="systemd sysvinit"

. "$here/checks.sh"
summary() { checks_summary "fleet $suite"; }
vm_setup_traps
trap 'vm_cleanup; summary' EXIT

[ "$(id -u)" = 0 ] || { fail "must run as root"; exit 1; }
[ -f "$deb" ] || { fail "no package $deb"; exit 1; }
deb=$(readlink -f "$deb")
for tool in ansible-playbook ansible-galaxy ssh-keyscan python3; do
    command -v "$tool" > /dev/null || { fail "$tool is missing (apt-get install ansible-core openssh-client)"; exit 1; }
done

work="$OFFROOT_VM_WORK/fleet-ansible"
rm -rf "$work"
mkdir -p "$work/cp" "$work/report"
ansible-galaxy collection build "$top/ansible" --output-path "$work/dist" > "$work/build.log" 2>&1 \
    && ansible-galaxy collection install "$work"/dist/offroot-fleet-*.tar.gz -p "$work/collections" >> "$work/build.log" 2>&1 \
    || { cat "$work/build.log"; fail "building and installing the collection"; exit 1; }
export ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_CONFIG="$work/ansible.cfg" ANSIBLE_NOCOLOR=1 \
    ANSIBLE_HOME="$work/ansible-home" ANSIBLE_LOCAL_TEMP="$work/ansible-local"

# --- the guests
for init in $inits; do
    name="fleet-$suite-$init"
    img=$(vm_base_image "$suite" "$init") || { fail "the $suite/$init image"; exit 1; }
    vm_prepare "$name" "$img" || { fail "vm_prepare $name"; exit 1; }
    vm_image_run "$name" "set -e
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends python3 python3-apt
        mkdir -p /srv/data && head -c 8M /dev/urandom > /srv/data/file && cd /srv/data && sha256sum file > /srv/sums" \
        > "$(vm_dir "$name")/python.log" 2>&1 \
        || { tail -n 20 "$(vm_dir "$name")/python.log"; fail "python3 into $name"; exit 1; }
    vm_boot "$name" || { fail "vm_boot $name"; exit 1; }
done
for init in $inits; do
    name="fleet-$suite-$init"
    vm_wait_ssh "$name" 22 "$boot_timeout" || { fail "sshd on 22 of $name"; exit 1; }
    [ "$init" = systemd ] && { OFFROOT_VM_SSH_TIMEOUT=180 vm_ssh "$name" 22 systemctl is-system-running --wait > /dev/null || true; }
done
pass "two guests up: $suite/systemd and $suite/sysvinit, python3 on their disks, no offroot"

# --- the inventory: each guest twice, its normal connection (22, Python)
# and its emergency one (1022, root, busybox, no Python: the interpreter
# named there does not exist, so that nothing can use one).
key=$(vm_key)
{
    echo "[offroot]"
    for init in $inits; do
        name="fleet-$suite-$init"
        echo "$name ansible_host=127.0.0.1 ansible_port=$(vm_port "$name" 22)"
    done
    echo "[offroot_emergency]"
    for init in $inits; do
        name="fleet-$suite-$init"
        echo "$name-emergency ansible_host=127.0.0.1 ansible_port=$(vm_port "$name" 1022)"
    done
    echo "[all:vars]"
    echo "ansible_user=root"
    echo "ansible_ssh_private_key_file=$key"
    echo "[offroot:vars]"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "ansible_ssh_common_args=-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=$work/known_hosts_22"
    echo "[offroot_emergency:vars]"
    echo "ansible_python_interpreter=/nonexistent/python3"
    echo "ansible_ssh_common_args=-F /dev/null -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$work/known_hosts_1022"
} > "$work/inventory"
cat > "$work/ansible.cfg" <<EOF
[defaults]
retry_files_enabled = False
forks = 10
timeout = 60
[ssh_connection]
control_path_dir = $work/cp
EOF
printf 'offroot_authorized_keys:\n  - "%s"\n' "$(cat "$key.pub")" > "$work/keys.yml"

playbook() {   # LOGNAME PLAYBOOK ARGS...: runs ansible-playbook; status in $rc, seconds in $seconds
    local log="$work/$1.log" t0
    shift
    t0=$(_vm_now)
    timeout 2400 ansible-playbook -i "$work/inventory" "$@" > "$log" 2>&1
    rc=$?
    seconds=$(_vm_since "$t0")
    echo "    ansible-playbook $*: exit $rc, ${seconds} s (log: $log)"
    grep -E '^(fatal|failed):|window on|PLAY RECAP|^fleet-' "$log" | sed 's/^/    /' | cut -c1-400
}
report() {   # HOST FIELD
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/report/window-$1.json" "$2" 2> /dev/null
}
status_is() { vm_ssh "$1" "$2" offroot status 2> /dev/null | grep -q "^offroot status: $3"; }
armed_by_arm() {
    local out
    out=$(vm_ssh "$1" 1022 offroot status 2> /dev/null)
    grep -q '^offroot status: NORMAL' <<< "$out" && grep -q '^root switch: tmpfs' <<< "$out"
}
root_mib() { vm_ssh "$1" 22 "stat -f -c '%b %S' / | awk '{print int(\$1 * \$2 / 1048576)}'"; }

# --- install and arm
playbook install offroot.fleet.install -e "offroot_deb=$deb" -e "@$work/keys.yml" \
    -e "offroot_known_hosts=$work/known_hosts_1022" -e offroot_arm=arm
check "install: the install playbook passes" test "$rc" = 0 || exit 1
for init in $inits; do
    name="fleet-$suite-$init"
    check "install: $name answers on 1022 with the key" vm_wait_ssh "$name" 1022 60
    check "install: $name is NORMAL, armed by offroot arm (root switch tmpfs)" armed_by_arm "$name"
    check "install: the known_hosts has $name's emergency host key" \
        grep -q "^\[127.0.0.1\]:$(vm_port "$name" 1022) ssh-ed25519 " "$work/known_hosts_1022"
done
check "install: the fingerprints were printed" grep -qi 'answers with sha256:' "$work/install.log"
playbook install-again offroot.fleet.install -e "offroot_deb=$deb" -e "@$work/keys.yml" \
    -e "offroot_known_hosts=$work/known_hosts_1022" -e offroot_arm=arm
check "install again: passes" test "$rc" = 0
check "install again: changes nothing" test "$(grep -Ec '^fleet-.*changed=0 ' "$work/install-again.log")" = 2

# --- the admin's tasks: raw only, over the emergency connection
cat > "$work/shrink.yml" <<'EOF'
---
- name: Check the unmounted root
  ansible.builtin.raw: e2fsck -f -y /dev/vda
- name: Shrink it
  ansible.builtin.raw: resize2fs /dev/vda {{ shrink_to }}
- name: Check the shrunk root
  ansible.builtin.raw: e2fsck -f -n /dev/vda
EOF
window_playbook() {   # FILE SERIAL MAX_FAIL: the README's sample window playbook
    cat > "$1" <<EOF
---
- name: Shrink the root filesystems
  hosts: offroot
  gather_facts: false
  serial: $2
  max_fail_percentage: $3
  roles:
    - role: offroot.fleet.window
      vars:
        offroot_window_tasks: $work/shrink.yml
        offroot_return_fsck: true
        offroot_report_dir: $work/report
EOF
}
after_window() {   # N SIZE_MIB: both guests back and shrunk
    local init name
    for init in $inits; do
        name="fleet-$suite-$init"
        check "window $1: $name reported ok" test "$(report "$name" ok)" = True
        check "window $1: $name NORMAL, sshd on 22 answers" status_is "$name" 22 NORMAL
        check "window $1: $name's root is ${2}M or less" test "$(root_mib "$name")" -le "$2"
        check "window $1: $name's data is intact" vm_ssh "$name" 22 'cd /srv/data && sha256sum --quiet -c /srv/sums'
        check "window $1: $name's 1022 still answers" vm_wait_ssh "$name" 1022 30
    done
}
cycle_seconds() {   # HOST: enter to NORMAL, from the report
    python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))["times"]; print("%.1f" % (float(t["normal"]) - float(t["enter_started"])))' \
        "$work/report/window-$1.json" 2> /dev/null
}

# --- window 1: both at once
window_playbook "$work/window-both.yml" 2 50
rm -f "$work"/report/*
playbook window-both "$work/window-both.yml" -e shrink_to=1800M
both_seconds=$seconds
check "window 1 (serial 2): passes" test "$rc" = 0
after_window 1 1800
both_cycles=""
for init in $inits; do both_cycles="$both_cycles $init $(cycle_seconds "fleet-$suite-$init") s"; done

# --- window 2: one after the other
window_playbook "$work/window-serial.yml" 1 0
rm -f "$work"/report/*
playbook window-serial "$work/window-serial.yml" -e shrink_to=1700M
serial_seconds=$seconds
check "window 2 (serial 1): passes" test "$rc" = 0
after_window 2 1700
serial_cycles=""
for init in $inits; do serial_cycles="$serial_cycles $init $(cycle_seconds "fleet-$suite-$init") s"; done

# --- window 3: the sysvinit guest made to fail its check
bad="fleet-$suite-sysvinit" good="fleet-$suite-systemd"
vm_ssh "$bad" 22 "setsid bash -c 'exec -a @holder sleep 100000' < /dev/null > /dev/null 2>&1 & sleep 1" \
    || fail "starting the holder on $bad"
holder_check=$(vm_ssh "$bad" 22 offroot check 2>&1)
check "window 3: $bad's check refuses on the holder" grep -q 'BLOCKER: .*@holder' <<< "$holder_check"
sshd_before=$(vm_ssh "$bad" 22 cat /run/sshd.pid)
good_sshd_before=$(vm_ssh "$good" 22 'cat /run/sshd.pid 2>/dev/null || pgrep -o sshd')
rm -f "$work"/report/*
playbook window-one-fails "$work/window-both.yml" -e shrink_to=1600M
check "window 3: ansible-playbook reports the failed host (exit 2)" test "$rc" = 2
check "window 3: $good went through its window" test "$(report "$good" ok)" = True
check "window 3: $good shrunk to 1600M" test "$(root_mib "$good")" -le 1600
check "window 3: $good's sshd is a new one (it was stopped and started)" \
    test "$(vm_ssh "$good" 22 'cat /run/sshd.pid 2>/dev/null || pgrep -o sshd')" != "$good_sshd_before"
check "window 3: $bad reported failed at stage check" test "$(report "$bad" stage)" = check
check "window 3: the report names the blocker" grep -q '@holder' "$work/report/window-$bad.json"
check "window 3: the failure names the host, the stage and the reason" \
    grep -q "offroot window on $bad failed at stage check (Go or no-go (offroot check)): offroot check: NO-GO, 1 blocker: .*@holder" "$work/window-one-fails.log"
check "window 3: $bad untouched: the same sshd" test "$(vm_ssh "$bad" 22 cat /run/sshd.pid)" = "$sshd_before"
check "window 3: $bad untouched: NORMAL" status_is "$bad" 22 NORMAL
check "window 3: $bad's root was not shrunk (still 1700M, not 1600M)" test "$(root_mib "$bad")" -gt 1600
check "window 3: the recap shows $good ok" grep -Eq "^$good +: .*failed=0" "$work/window-one-fails.log"
check "window 3: the recap shows $bad failed" grep -Eq "^$bad +: .*failed=1" "$work/window-one-fails.log"
vm_ssh "$bad" 22 "pkill -f '^@holder' || true"

echo "fleet $suite figures: two-host window (serial 2) ${both_seconds} s (enter to NORMAL:$both_cycles);" \
    "the two cycles one after the other (serial 1) ${serial_seconds} s (enter to NORMAL:$serial_cycles)"
for init in $inits; do vm_poweroff "fleet-$suite-$init" 22 || fail "powered off fleet-$suite-$init"; done
[ "$failed" -eq 0 ]
