// Seconds on the monotonic clock: for timeouts and the figures enter and
// return report, which must not jump with the wall clock.
#pragma once

#include <time.h>

namespace offroot {

inline double monotonic_seconds() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace offroot
