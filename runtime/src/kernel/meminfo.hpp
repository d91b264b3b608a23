// Memory figures from /proc/meminfo: whether RAM can hold what leaves the
// disk (the swapped-out pages swapoff brings back, tmpfs contents, the
// emergency environment).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace offroot {

struct MemInfo {
    uint64_t total_kib = 0;      // MemTotal
    uint64_t free_kib = 0;       // MemFree
    uint64_t available_kib = 0;  // MemAvailable: the kernel's estimate, not free + cache
    uint64_t shmem_kib = 0;      // Shmem: tmpfs and shared memory, which only swap can evict
    uint64_t swap_total_kib = 0;
    uint64_t swap_free_kib = 0;
};

// Every field above is required (MemAvailable exists since Linux 3.14).
Result<MemInfo> parse_meminfo(std::string_view text);
Result<MemInfo> read_meminfo(const std::string& path = "/proc/meminfo");

}  // namespace offroot
