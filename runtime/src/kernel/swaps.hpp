// Active swap areas from /proc/swaps: a swap file or partition on the disk
// keeps it busy until swapoff, and swapoff needs RAM for what is swapped out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct SwapArea {
    // Unescaped (\040 -> ' '). A swap file unlinked while active keeps the
    // kernel's " (deleted)" suffix.
    std::string filename;
    std::string type;  // "partition" or "file"
    uint64_t size_kib = 0;
    uint64_t used_kib = 0;
    int priority = 0;  // negative unless set by swapon -p
};

Result<std::vector<SwapArea>> parse_proc_swaps(std::string_view text);
Result<std::vector<SwapArea>> read_swaps(const std::string& path = "/proc/swaps");

}  // namespace offroot
