// A transition that changes nothing, run the way enter and return run
// (transitions/transition_worker.hpp): in a detached worker that takes the
// lock, records each step and logs to /var/lib/offroot/log, followed by
// this process. For the namespace test of the worker, the lock and the
// record (tests/ns/scenarios/transition-init.sh).
//   transition_driver NAME STEP_SECONDS STEP...
// Exits as offroot's transition commands do: the worker's code, 3 when
// another transition runs, 4 when interrupted while following.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "transitions/transition.hpp"
#include "transitions/transition_worker.hpp"

using namespace offroot;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: transition_driver NAME STEP_SECONDS STEP...\n");
        return 2;
    }
    const std::string name = argv[1];
    const long step_ms = std::atol(argv[2]) * 1000;
    const std::vector<std::string> steps(argv + 3, argv + argc);
    auto exit = run_in_worker(WorkerSpec{name, {"--driver"}, kRamLog}, [&]() {
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
    });
    if (!exit) {
        std::fprintf(stderr, "transition_driver: %s\n", exit.error().message().c_str());
        return 1;
    }
    if (!exit->message.empty()) std::fprintf(stderr, "transition_driver: %s\n", exit->message.c_str());
    return exit->code;
}
