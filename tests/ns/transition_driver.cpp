// A transition that changes nothing, run the way enter and return run
// (transitions/transition_worker.hpp): in a detached worker that takes the
// lock, records each step and logs to /var/lib/offroot/log, followed by
// this process. For the namespace test of the worker, the lock and the
// record (tests/ns/scenarios/transition-init.sh).
//   transition_driver NAME STEP_SECONDS STEP...
//   transition_driver hold-dhcp-leases fail|hang
// enter's step hold-dhcp-leases for real (its DHCP clients killed and
// recorded), in an enter worker that then fails (its undo starts them
// again) or hangs (for the test to kill it and run offroot recover).
// Exits as offroot's transition commands do: the worker's code, 3 when
// another transition runs, 4 when interrupted while following.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "base/undo.hpp"
#include "system/emergency.hpp"
#include "transitions/network_steps.hpp"
#include "transitions/transition.hpp"
#include "transitions/transition_worker.hpp"

using namespace offroot;

namespace {

// The network record of the driver's own (rootfs has no /tmp once pruned).
constexpr const char* kDriverNetworkRecord = "/var/lib/offroot/driver-network";

int fail_with(const Error& e) {
    log_error("transition_driver: " + e.message());
    return 1;
}

}  // namespace

namespace {

// Inside the worker, as enter runs the step: the real root as seen from the
// environment before the switch.
int hold_dhcp_leases(bool then_fail) {
    note_transition_step("hold-dhcp-leases");
    auto status = read_system_status();
    if (!status) return fail_with(status.error());
    auto network = snapshot_network_step(kDriverNetworkRecord);
    if (!network) return fail_with(network.error());
    UndoStack undo;
    if (auto s = hold_dhcp_leases_step(*network, kDriverNetworkRecord, kDhcpClientsRecord,
                                       real_root_view(*status).root(), undo);
        !s)
        return fail_with(s.error());
    log_info("enter: hold-dhcp-leases done");
    if (then_fail) {
        log_error("enter: failing on purpose; undoing");
        return 1;  // `undo` rolls back on the way out
    }
    undo.commit();
    for (;;) ::pause();
}

}  // namespace

// The follower's end, as offroot's commands end.
int followed(const Result<WorkerExit>& exit) {
    if (!exit) {
        std::fprintf(stderr, "transition_driver: %s\n", exit.error().message().c_str());
        return 1;
    }
    if (!exit->message.empty()) std::fprintf(stderr, "transition_driver: %s\n", exit->message.c_str());
    return exit->code;
}

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "hold-dhcp-leases") {
        const bool then_fail = std::string(argv[2]) == "fail";
        return followed(run_in_worker(WorkerSpec{"enter", {"--driver"}, kRamLog},
                                      [then_fail]() { return hold_dhcp_leases(then_fail); }));
    }
    if (argc < 4) {
        std::fprintf(stderr, "usage: transition_driver NAME STEP_SECONDS STEP... | hold-dhcp-leases fail|hang\n");
        return 2;
    }
    const std::string name = argv[1];
    const long step_ms = std::atol(argv[2]) * 1000;
    const std::vector<std::string> steps(argv + 3, argv + argc);
    return followed(run_in_worker(WorkerSpec{name, {"--driver"}, kRamLog}, [&]() {
        for (const auto& step : steps) {
            note_transition_step(step);
            log_info(name + ": " + step + "...");
            struct timespec pause {step_ms / 1000, (step_ms % 1000) * 1000000};
            while (::nanosleep(&pause, &pause) != 0) {
            }
            log_info(name + ": " + step + " done");
        }
        log_info(name + ": all steps done in pid " + std::to_string(::getpid()));
        return 0;
    }));
}
