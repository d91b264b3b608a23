#!/bin/sh
# The automatic return of offroot enter --timeout, with a real offroot-init
# as PID 1: keep-rootfs' scene, with time-limit-driver.sh in rootfs while
# the stub runs.
STUB_DRIVER=time-limit-driver.sh
. /tests/keep-rootfs.sh
