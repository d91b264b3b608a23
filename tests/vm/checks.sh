# Sourced by the VM tests: TAP-like checks counted into one closing line.
#   check DESCRIPTION COMMAND...      passes when COMMAND succeeds
#   check_not DESCRIPTION COMMAND...  passes when COMMAND fails
# Both return the outcome, so that a step can stop a sequence early.
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
check() {
    local description=$1
    shift
    if "$@"; then pass "$description"; else fail "$description"; return 1; fi
}
check_not() {
    local description=$1
    shift
    if "$@"; then fail "$description"; return 1; else pass "$description"; fi
}
# The closing line ctest's log is read for: "N passed, N failed".
checks_summary() { echo "$1: $passed passed, $failed failed"; }
