#!/bin/bash
# The collection's window playbook, run by ansible-playbook against two fake
# hosts on this machine: each is a pair of dropbears on 127.0.0.1 (its
# "sshd on 22" and its "emergency dropbear on 1022", on free ports) and a
# stand-in for offroot (fake-offroot.sh) whose enter stops the first and
# whose return starts it again. No VM, no real offroot: what is tested is
# the collection's side, in seconds: the two inventory connections, the
# emergency one without Python (its hosts' interpreter does not exist), the
# batches, the failure at each stage and where the host is left, the
# reports, check mode, idempotence.
#
#   tests/ansible/window-local.sh        (as root: the dropbears log in as
#                                         root, with a key of the test's own,
#                                         in a mount namespace whose /root is
#                                         the test's directory;
#                                         OFFROOT_TEST_KEEP=1 keeps it)
# Every failure is a counted check or an explicit exit: no set -e.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/vm/checks.sh"
trap 'cleanup; checks_summary "ansible window-local"' EXIT

for tool in ansible-playbook ansible-galaxy ansible dropbear dropbearkey ssh ssh-keygen unshare nsenter python3; do
    command -v "$tool" > /dev/null || { fail "$tool is missing (apt-get install ansible-core dropbear-bin openssh-client util-linux)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { fail "must run as root (mount namespace, dropbear logins as root)"; exit 1; }

tmp=$(mktemp -d /tmp/offroot-ansible.XXXXXX)
keeper=""
cleanup() {
    local f
    for f in "$tmp"/host*/ssh22.pid "$tmp"/host*/emergency.pid; do
        [ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null
    done
    [ -n "$keeper" ] && kill "$keeper" 2> /dev/null
    if [ -n "${OFFROOT_TEST_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}

# The collection, built and installed as an admin would.
ansible-galaxy collection build "$top/ansible" --output-path "$tmp/dist" > "$tmp/build.log" 2>&1 \
    || { cat "$tmp/build.log"; fail "ansible-galaxy collection build"; exit 1; }
ansible-galaxy collection install "$tmp"/dist/offroot-fleet-*.tar.gz -p "$tmp/collections" > "$tmp/install.log" 2>&1 \
    || { cat "$tmp/install.log"; fail "ansible-galaxy collection install"; exit 1; }
pass "the collection builds and installs"
export ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ANSIBLE_CONFIG="$tmp/ansible.cfg" ANSIBLE_NOCOLOR=1 \
    ANSIBLE_HOME="$tmp/ansible-home" ANSIBLE_LOCAL_TEMP="$tmp/ansible-local"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

ssh-keygen -q -t ed25519 -N '' -C offroot-ansible-test -f "$tmp/id"
mkdir -p "$tmp/home/.ssh" "$tmp/cp"
cp "$tmp/id.pub" "$tmp/home/.ssh/authorized_keys"
chmod 700 "$tmp/home" "$tmp/home/.ssh"
chmod 600 "$tmp/home/.ssh/authorized_keys"

hosts="hosta hostb"
declare -A port22 port1022
for h in $hosts; do
    s="$tmp/$h"
    mkdir -p "$s"
    dropbearkey -t ed25519 -f "$s/hostkey22" > /dev/null 2>&1
    mkdir -p "$s/etc-offroot"
    dropbearkey -t ed25519 -f "$s/etc-offroot/dropbear_ed25519_host_key" > /dev/null 2>&1
    dropbearkey -t ecdsa -f "$s/etc-offroot/dropbear_ecdsa_host_key" > /dev/null 2>&1
    port22[$h]=$(free_port)
    port1022[$h]=$(free_port)
    echo "dropbear -s -r $s/hostkey22 -p 127.0.0.1:${port22[$h]} -P $s/ssh22.pid" > "$s/ssh22.cmd"
    echo "dropbear -s -r $s/etc-offroot/dropbear_ed25519_host_key -r $s/etc-offroot/dropbear_ecdsa_host_key -p 127.0.0.1:${port1022[$h]} -P $s/emergency.pid" > "$s/emergency.cmd"
    sed -e "s|@STATE@|$s|" -e "s|@EMERGENCY_PORT@|${port1022[$h]}|" "$here/fake-offroot.sh" > "$s/offroot"
    chmod 755 "$s/offroot"
done

# One mount namespace for all four dropbears and their sessions, /root in it
# the test's directory (authorized_keys, Ansible's remote temp files).
start_cmds=""
for h in $hosts; do start_cmds="$start_cmds sh $tmp/$h/ssh22.cmd; sh $tmp/$h/emergency.cmd;"; done
unshare -m --propagation private sh -c "mount --bind $tmp/home /root && $start_cmds exec sleep 100000" &
keeper=$!

ssh_opts=(-F /dev/null -i "$tmp/id" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no
          -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5)
answers() { timeout 20 ssh "${ssh_opts[@]}" -p "$1" root@127.0.0.1 true < /dev/null > /dev/null 2>&1; }
wait_answers() { local i; for i in $(seq 1 50); do answers "$1" && return 0; sleep 0.2; done; return 1; }
for h in $hosts; do
    check "$h: its normal dropbear answers" wait_answers "${port22[$h]}" || exit 1
    check "$h: its emergency dropbear answers" wait_answers "${port1022[$h]}" || exit 1
done

cat > "$tmp/ansible.cfg" <<EOF
[defaults]
retry_files_enabled = False
forks = 5
[ssh_connection]
ssh_args = -o ControlMaster=auto -o ControlPersist=30s -o ServerAliveInterval=5
control_path_dir = $tmp/cp
EOF
{
    echo "[offroot]"
    for h in $hosts; do
        echo "$h ansible_host=127.0.0.1 ansible_port=${port22[$h]} offroot_executable=$tmp/$h/offroot offroot_test_disk=$tmp/$h/disk offroot_host_key_dir=$tmp/$h/etc-offroot"
    done
    echo "[offroot_emergency]"
    for h in $hosts; do echo "$h-emergency ansible_host=127.0.0.1 ansible_port=${port1022[$h]}"; done
    echo "[all:vars]"
    echo "ansible_user=root"
    echo "ansible_ssh_private_key_file=$tmp/id"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "[offroot:vars]"
    echo "ansible_ssh_common_args=-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no"
    echo "[offroot_emergency:vars]"
    echo "# The emergency environment has no Python: nothing may need it."
    echo "ansible_python_interpreter=/nonexistent/python3"
    echo "# Its host keys are those the install role wrote, and no others."
    echo "ansible_ssh_common_args=-o UserKnownHostsFile=$tmp/known_hosts_1022 -o StrictHostKeyChecking=yes"
} > "$tmp/inventory"

# The admin's tasks: raw only, over the emergency connection.
cat > "$tmp/work.yml" <<'EOF'
---
- name: Work on the unmounted disk
  ansible.builtin.raw: echo "worked on $(hostname) port ${SSH_CONNECTION##* }" >> {{ offroot_test_disk }}
- name: A step that fails when asked to
  ansible.builtin.raw: test ! -e {{ offroot_test_disk }}.fail
EOF

reset_host() {   # HOST: NORMAL, nothing blocking, its normal sshd up
    local s="$tmp/$1"
    echo NORMAL > "$s/state"
    rm -f "$s/blocker" "$s/refuse-return" "$s/disk" "$s/disk.fail" "$s/calls" "$s/time-limit"
    : > "$s/calls"
    date > "$s/service"
    answers "${port22[$1]}" || nsenter -t "$keeper" -m sh "$s/ssh22.cmd"
    wait_answers "${port22[$1]}"
}
window() {   # LOGNAME ANSIBLE-PLAYBOOK-ARGS...: runs the window playbook, its status in $rc
    local log="$tmp/$1.log"
    shift
    rm -rf "$tmp/report"
    mkdir -p "$tmp/report"
    timeout 600 ansible-playbook -i "$tmp/inventory" offroot.fleet.window \
        -e "offroot_window_tasks=$tmp/work.yml" -e "offroot_report_dir=$tmp/report" \
        -e offroot_timeout=30 -e offroot_services_timeout=10 "$@" > "$log" 2>&1
    rc=$?
    sed 's/^/    /' "$log" | grep -E 'fatal:|FAILED|failed=|window on|ok=' || true
}
report() {   # HOST FIELD: a field of the host's report
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/report/window-$1.json" "$2" 2> /dev/null
}
state_is() { test "$(cat "$tmp/$1/state")" = "$2"; }
called() { grep -q -- "$2" "$tmp/$1/calls"; }

# 0. The install role's host-key part: the emergency port checked against
#    the host's own keys and written to the known_hosts that the emergency
#    connection uses strictly from then on (every scenario below).
reset_host hosta && reset_host hostb
cat > "$tmp/host-key.yml" <<'EOF'
---
- name: The emergency host keys
  hosts: offroot
  gather_facts: false
  tasks:
    - name: The install role's host-key tasks
      ansible.builtin.include_role:
        name: offroot.fleet.install
        tasks_from: host-key
EOF
timeout 300 ansible-playbook -i "$tmp/inventory" "$tmp/host-key.yml" -e "offroot_known_hosts=$tmp/known_hosts_1022" \
    > "$tmp/host-key.log" 2>&1
rc=$?
check "host keys: the play passes" test "$rc" = 0 || sed 's/^/    /' "$tmp/host-key.log"
for h in $hosts; do
    check "host keys: $h's emergency keys (ed25519, ecdsa) are in the known_hosts as [127.0.0.1]:${port1022[$h]}" \
        test "$(grep -c "^\[127.0.0.1\]:${port1022[$h]} " "$tmp/known_hosts_1022")" = 2
done
check "host keys: the fingerprints are printed" grep -q "answers with SHA256:" "$tmp/host-key.log"
cp "$tmp/known_hosts_1022" "$tmp/known_hosts_1022.good"
# hostb's emergency port checked against other keys (hosta's): refused,
# nothing written.
sed -i "/^\[127.0.0.1\]:${port1022[hostb]} /d" "$tmp/known_hosts_1022"
timeout 300 ansible-playbook -i "$tmp/inventory" "$tmp/host-key.yml" -e "offroot_known_hosts=$tmp/known_hosts_1022" \
    -l hostb -e "offroot_host_key_dir=$tmp/hosta/etc-offroot" > "$tmp/host-key-wrong.log" 2>&1
rc=$?
check "host keys: a port answering with keys that are not the host's fails (exit 2)" test "$rc" = 2
check "host keys: and says so" grep -q "does not answer with the emergency dropbear's host keys of hostb" "$tmp/host-key-wrong.log"
check "host keys: and writes nothing" test "$(grep -c "^\[127.0.0.1\]:${port1022[hostb]} " "$tmp/known_hosts_1022")" = 0
cp "$tmp/known_hosts_1022.good" "$tmp/known_hosts_1022"

# 1. Two hosts in one batch, one made to fail its check: it is left alone
#    and reported, the other goes through its window.
reset_host hosta && reset_host hostb
echo 'sleep (pid 777) is a root storage daemon (argv[0] "@holder") and runs from the root filesystem' > "$tmp/hostb/blocker"
window one-fails -e offroot_serial=2 -e offroot_max_fail_percentage=50
check "one batch, one host no-go: ansible-playbook reports a failed host (exit 2)" test "$rc" = 2
check "hosta: through its window, NORMAL" state_is hosta NORMAL
check "hosta: entered" called hosta "--json enter"
check "hosta: returned" called hosta "--json return"
check "hosta: the admin's task ran over the emergency connection, DETACHED" \
    grep -q "port ${port1022[hosta]}\$" "$tmp/hosta/disk"
check "hosta: its normal sshd answers again" answers "${port22[hosta]}"
check "hosta: reported ok" test "$(report hosta ok)" = True
check "hosta: entered with the default dead-man time limit" called hosta "enter --timeout 30m"
check "hosta: the time limit set again before the admin's tasks" called hosta "extend 30m"
check "hosta: no time limit left after the return" test ! -e "$tmp/hosta/time-limit"
check "hosta: reported with no automatic return (null)" test "$(report hosta automatic_return)" = None
check "hostb: never entered" test "$(grep -c -- '--json enter' "$tmp/hostb/calls")" = 0
check "hostb: untouched, NORMAL" state_is hostb NORMAL
check "hostb: its sshd answers" answers "${port22[hostb]}"
check "hostb: reported failed at stage check" test "$(report hostb stage)" = check
check "hostb: the report names the blocker" grep -q '@holder' "$tmp/report/window-hostb.json"
check "hostb: the report says untouched" grep -q '"left": "untouched: nothing was entered (NORMAL)"' "$tmp/report/window-hostb.json"
check "the failure message names the host, the stage and the CLI's reason" \
    grep -q 'offroot window on hostb failed at stage check (Go or no-go (offroot check)): offroot check: NO-GO, 1 blocker: sleep (pid 777) is a root storage daemon' "$tmp/one-fails.log"
check "the recap: hosta changed, not failed" grep -Eq 'hosta +: ok=[0-9]+ +changed=[1-9][0-9]* .*failed=0' "$tmp/one-fails.log"
check "the recap: hostb failed" grep -Eq 'hostb +: ok=[0-9]+ .*failed=1' "$tmp/one-fails.log"

# 1b. The admin's tasks as a list of files, each a batch: the time limit
#     (another one here) set again before each.
reset_host hosta
cat > "$tmp/work2.yml" <<'EOF'
---
- name: A second batch
  ansible.builtin.raw: echo "batch 2, time limit $(cat {{ offroot_test_disk | dirname }}/time-limit)" >> {{ offroot_test_disk }}
EOF
window batches -e offroot_hosts=hosta -e offroot_time_limit=45m -e "{\"offroot_window_tasks\": [\"$tmp/work.yml\", \"$tmp/work2.yml\"]}"
check "batches: the window passes" test "$rc" = 0
check "batches: entered with that time limit" called hosta "enter --timeout 45m"
check "batches: both files ran" grep -q '^batch 2, time limit 2700 ' "$tmp/hosta/disk"
check "batches: set again before each" test "$(grep -c -- '--json extend 45m$' "$tmp/hosta/calls")" = 2
check "batches: NORMAL" state_is hosta NORMAL
check "batches: no time limit left" test ! -e "$tmp/hosta/time-limit"

# 2. serial 1, max_fail_percentage 0: the first host fails its check, the
#    next batch is never started.
reset_host hosta && reset_host hostb
echo 'not enough RAM: 10 MiB available, 64 MiB needed' > "$tmp/hosta/blocker"
window stops-batches -e offroot_serial=1 -e offroot_max_fail_percentage=0
check "serial 1: the failed first batch stops the play (exit 2)" test "$rc" = 2
check "serial 1: hostb, in the next batch, was never touched" test ! -s "$tmp/hostb/calls"
check "serial 1: hosta reported at stage check" test "$(report hosta stage)" = check

# 3. Failures while DETACHED: hosta's own task fails (it is returned, with
#    --fsck), hostb's return is refused (it stays DETACHED, reachable on
#    its emergency port). Both reported, neither half-way.
reset_host hosta && reset_host hostb
touch "$tmp/hosta/disk.fail"
echo '/dev/fake holds no filesystem' > "$tmp/hostb/refuse-return"
window detached-failures -e offroot_serial=2 -e offroot_max_fail_percentage=100
check "failures while DETACHED: ansible-playbook reports failed hosts (exit 2)" test "$rc" = 2
check "hosta: its task failed, it was returned with --fsck" called hosta "return --fsck"
check "hosta: NORMAL" state_is hosta NORMAL
check "hosta: its normal sshd answers again" answers "${port22[hosta]}"
check "hosta: reported at stage work" test "$(report hosta stage)" = work
check "hosta: reported left NORMAL after a return" grep -q '"left": "NORMAL: returned after the failure' "$tmp/report/window-hosta.json"
check "hostb: its return refused, still DETACHED" state_is hostb DETACHED
check "hostb: reachable on its emergency port" answers "${port1022[hostb]}"
check "hostb: reported at stage return" test "$(report hostb stage)" = return
check "hostb: reported left DETACHED with the way in" \
    grep -q "\"left\": \"DETACHED: off its disk, running from RAM, reachable over the emergency connection (hostb-emergency: ssh -p ${port1022[hostb]} root@127.0.0.1)" "$tmp/report/window-hostb.json"
check "hostb: the message has the CLI's reason" \
    grep -q 'refusing to return onto /dev/fake, still DETACHED: /dev/fake holds no filesystem' "$tmp/report/window-hostb.json"
check "hostb: its automatic return is still pending" test -s "$tmp/hostb/time-limit"
check "hostb: and the report says when it starts" \
    grep -q '"left": "DETACHED: .*; automatic return in [0-9hms]* (time limit 30m) unless offroot extend or offroot confirm"' "$tmp/report/window-hostb.json"
check "hostb: the report has the time limit" grep -q '"limit_seconds": 1800' "$tmp/report/window-hostb.json"

# 4. With offroot_on_failure=stay, a host whose task failed stays DETACHED.
reset_host hosta
touch "$tmp/hosta/disk.fail"
window stay -e offroot_hosts=hosta -e offroot_on_failure=stay
check "on_failure=stay: hosta stays DETACHED" state_is hosta DETACHED
check "on_failure=stay: reachable on its emergency port" answers "${port1022[hosta]}"
check "on_failure=stay: no return was tried" test "$(grep -c -- '--json return' "$tmp/hosta/calls")" = 0
check "on_failure=stay: the automatic return put off for a person (before the batch, then after the failure)" \
    test "$(grep -c -- '--json extend 30m$' "$tmp/hosta/calls")" = 2
check "on_failure=stay: and pending" test -s "$tmp/hosta/time-limit"
check "on_failure=stay: the report says when it starts" grep -q '"left": "DETACHED: .*; automatic return in' "$tmp/report/window-hosta.json"
echo NORMAL > "$tmp/hosta/state"

# 4b. A host without an emergency connection in the inventory: untouched.
reset_host hosta
window no-emergency-host -e offroot_hosts=hosta -e offroot_emergency_host=nowhere-emergency
check "no emergency host: fails" test "$rc" = 2
check "no emergency host: says so" grep -q 'nowhere-emergency is not in the inventory' "$tmp/report/window-hosta.json"
check "no emergency host: never entered, NORMAL" test "$(grep -c -- '--json enter' "$tmp/hosta/calls")" = 0
check "no emergency host: NORMAL" state_is hosta NORMAL

# 5. Check mode: the plans, nothing entered.
reset_host hosta && reset_host hostb
window check-mode -e offroot_serial=2 -e offroot_time_limit= --check
check "check mode: the window passes" test "$rc" = 0
check "check mode, offroot_time_limit empty: no time limit asked for" test "$(grep -c -- '--timeout\|extend' "$tmp/hosta/calls")" = 0
check "check mode: enter --dry-run ran" called hosta "enter --dry-run"
check "check mode: no real enter" test "$(grep -- '--json enter' "$tmp/hosta/calls" | grep -vc -- --dry-run)" = 0
check "check mode: hosta still NORMAL" state_is hosta NORMAL
check "check mode: hostb still NORMAL" state_is hostb NORMAL

# 6. The module alone, over the emergency connection: idempotent, no Python.
reset_host hosta
mod() { ansible -i "$tmp/inventory" hosta-emergency -m offroot.fleet.offroot -a "$1 executable=$tmp/hosta/offroot" > "$tmp/mod.log" 2>&1; }
mod command=enter
check "module: enter changes" grep -q 'CHANGED' "$tmp/mod.log"
mod command=enter
check "module: enter on a DETACHED host succeeds" grep -q 'hosta-emergency | SUCCESS' "$tmp/mod.log"
check "module: with no change" grep -q '"changed": false' "$tmp/mod.log"
check "module: and says it is already DETACHED" grep -q 'already DETACHED' "$tmp/mod.log"
mod "command=return fsck=true"
check "module: return changes" grep -q 'CHANGED' "$tmp/mod.log"
check "module: NORMAL after return" state_is hosta NORMAL
mod command=return
check "module: return on a NORMAL host is no change" grep -q '"changed": false' "$tmp/mod.log"
check "module: and says it is already NORMAL" grep -q 'already NORMAL' "$tmp/mod.log"
calls_before=$(wc -l < "$tmp/hosta/calls")
mod "command=enter time_limit=30"
check "module: a time limit without a unit fails" grep -q 'hosta-emergency | FAILED' "$tmp/mod.log"
check "module: in the CLI's words" grep -q 'time_limit: the duration \\"30\\" has no unit; give it with a unit' "$tmp/mod.log"
check "module: before anything ran on the host" test "$(wc -l < "$tmp/hosta/calls")" = "$calls_before"
mod "command=enter time_limit=30m"
check "module: time_limit is enter --timeout" called hosta "enter --timeout 30m"
check "module: DETACHED with the time limit" state_is hosta DETACHED
check "module: the time limit is in the facts" grep -q '"offroot_automatic_return": {' "$tmp/mod.log"
mod command=status
check "module: status says when the automatic return starts" grep -q 'automatic return in [0-9m]*s* (time limit 30m)' "$tmp/mod.log"
mod "command=extend time_limit=1h"
check "module: extend changes" grep -q 'CHANGED' "$tmp/mod.log"
check "module: extend runs offroot extend" called hosta "extend 1h"
check "module: and says what the CLI said" grep -q 'offroot extend: the automatic return starts in 1h' "$tmp/mod.log"
mod "command=extend time_limit=1h"
check "module: extend again changes again" grep -q 'CHANGED' "$tmp/mod.log"
mod command=confirm
check "module: confirm changes" grep -q 'CHANGED' "$tmp/mod.log"
check "module: no time limit is left" test ! -e "$tmp/hosta/time-limit"
mod command=confirm
check "module: confirm without a time limit succeeds" grep -q 'hosta-emergency | SUCCESS' "$tmp/mod.log"
check "module: with no change" grep -q '"changed": false' "$tmp/mod.log"
mod "command=return sshd_timeout=2m"
check "module: sshd_timeout is return --sshd-timeout" called hosta "return --sshd-timeout 2m"
check "module: NORMAL after that return" state_is hosta NORMAL
mod "command=extend time_limit=1h"
check "module: extend on a NORMAL host fails" grep -q 'cannot extend: the host is NORMAL' "$tmp/mod.log"
python_module() { ansible -i "$tmp/inventory" hosta-emergency -m ansible.builtin.ping > "$tmp/ping.log" 2>&1; }
check_not "module: a Python module over the emergency connection fails (it has no Python)" python_module

[ "$failed" -eq 0 ]
