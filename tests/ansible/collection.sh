#!/bin/bash
# The Ansible collection (ansible/) as a user gets it: built with
# ansible-galaxy, installed from the tarball, its module's documentation
# read by ansible-doc, its playbooks syntax-checked by ansible-playbook, and
# the source linted by ansible-lint (as Debian ships them: ansible-core 2.14
# and ansible-lint 6.13 on Debian 12) with the built collection on the
# collections path, so that the module's options are checked too.
#   tests/ansible/collection.sh [SOURCE_TOP]
set -u
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/vm/checks.sh"
tmp=$(mktemp -d /tmp/offroot-collection.XXXXXX)
trap 'rm -rf "$tmp"; checks_summary "ansible collection"' EXIT
for tool in ansible-galaxy ansible-doc ansible-playbook ansible-lint; do
    command -v "$tool" > /dev/null || { fail "$tool is missing (apt-get install ansible-core ansible-lint)"; exit 1; }
done
export ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" \
    ANSIBLE_HOME="$tmp/ansible-home"

built() { ansible-galaxy collection build "$top/ansible" --output-path "$tmp/dist" > "$tmp/build.log" 2>&1; }
check "ansible-galaxy collection build" built || { cat "$tmp/build.log"; exit 1; }
tarball=$(ls "$tmp"/dist/offroot-fleet-*.tar.gz)
check "the tarball has the module, its action plugin, the roles and the playbooks" \
    bash -c "tar -tzf '$tarball' > '$tmp/files' && for f in plugins/modules/offroot.py plugins/action/offroot.py \
        plugins/module_utils/offroot.py roles/install/tasks/main.yml roles/window/tasks/main.yml \
        playbooks/install.yml playbooks/window.yml README.md meta/runtime.yml; do grep -qx \"\$f\" '$tmp/files' || exit 1; done"
check_not "the tarball carries no test output or caches" grep -Eq '__pycache__|\.pytest_cache|tests/output' "$tmp/files"
installed() { ansible-galaxy collection install "$tarball" -p "$tmp/collections" > "$tmp/install.log" 2>&1; }
check "ansible-galaxy collection install" installed || { cat "$tmp/install.log"; exit 1; }
doc() { ansible-doc offroot.fleet.offroot > "$tmp/doc.txt" 2>&1 && grep -q 'command' "$tmp/doc.txt"; }
check "ansible-doc reads the module's documentation" doc || cat "$tmp/doc.txt"
for p in install window; do
    syntax() { ansible-playbook -i localhost, --syntax-check "offroot.fleet.$1" > "$tmp/syntax-$1.log" 2>&1; }
    check "ansible-playbook --syntax-check offroot.fleet.$p" syntax "$p" || cat "$tmp/syntax-$p.log"
done
lint() { (cd "$top/ansible" && ansible-lint --nocolor -p) > "$tmp/lint.log" 2>&1; }
check "ansible-lint (production profile) is clean" lint || cat "$tmp/lint.log"
[ "$failed" -eq 0 ]
