# Sourced by the namespace tests (POSIX sh): TAP-like checks on stdout;
# `failed` is 1 once any failed, for the script's exit status.
#   check DESCRIPTION COMMAND...    passes when COMMAND succeeds
#   check_eq DESCRIPTION EXPECTED ACTUAL
failed=0
check() {
    description=$1
    shift
    if "$@"; then echo "ok - $description"; else echo "not ok - $description"; failed=1; fi
}
check_eq() {
    if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: expected '$2', got '$3'"; failed=1; fi
}
