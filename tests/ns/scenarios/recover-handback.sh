#!/bin/sh
# offroot recover of an enter killed between reexec-pid1 and unbind-stub,
# with a real offroot-init as PID 1: keep-rootfs' scene (the stub bound
# over /sbin/init, the root aside), with recover-handback-driver.sh in
# rootfs while the stub runs.
STUB_DRIVER=recover-handback-driver.sh
. /tests/keep-rootfs.sh
