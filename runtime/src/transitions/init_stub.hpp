// offroot-init: the PID 1 that runs from RAM while the disk is away.
//
// It is bind-mounted over the real init's binary and started by the init's
// own re-exec (systemd daemon-reexec, sysvinit "telinit u"), so it begins
// life inside the real root, chrooted at rootfs:/root. It leaves that
// chroot for rootfs, drops everything the old init handed over, and then
// does only what PID 1 must: reap orphans. SIGUSR1 means "the root is back
// on top of /": it enters it through "/.." and execs the real init. On its
// tick it also starts `offroot return` itself once the time limit of
// `offroot enter --timeout` has run out (system/time_limit.hpp).
// PID 1 must never exit (the kernel panics), so every failure is logged and
// the stub goes on waiting.
#pragma once

#include <string>

#include "base/result.hpp"

namespace offroot {

struct InitStubOptions {
    std::string cmdline_path = "/proc/cmdline";
};

// Never returns when running as PID 1.
[[noreturn]] void run_init_stub(const InitStubOptions& options);

}  // namespace offroot
