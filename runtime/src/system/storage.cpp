#include "system/storage.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <set>
#include <utility>

#include "base/files.hpp"
#include "kernel/mountinfo.hpp"
#include "kernel/swaps.hpp"

namespace offroot {

Result<std::vector<StorageState>> read_storage_state() {
    auto stack = read_block_stack();
    if (!stack) return stack.error();
    // Mounted as seen by us and by PID 1: in the pivot and tmpfs switches
    // our sessions' bind does not show the real root's mounts.
    std::set<std::pair<unsigned, unsigned>> mounted;
    for (const char* table : {"/proc/self/mountinfo", "/proc/1/mountinfo"})
        if (auto t = MountTable::read(table); t)
            for (const auto& m : t->entries()) mounted.insert({m.major, m.minor});
    std::set<std::pair<unsigned, unsigned>> swapping;
    if (auto swaps = read_swaps(); swaps)
        for (const auto& s : *swaps)
            if (auto st = stat_path(s.filename); st && S_ISBLK(st->st_mode))
                swapping.insert({::major(st->st_rdev), ::minor(st->st_rdev)});

    std::vector<StorageState> out;
    for (auto& d : *stack) {
        StorageState s;
        const auto id = std::make_pair(d.major, d.minor);
        if (mounted.count(id)) s.used_by = "mounted";
        else if (swapping.count(id)) s.used_by = "swap";
        else if (!d.holders.empty()) s.used_by = "holds " + d.holders.front();
        s.device = std::move(d);
        out.push_back(std::move(s));
    }
    return out;
}

std::string format_storage_human(const std::vector<StorageState>& states) {
    std::string out;
    for (const auto& s : states) {
        std::string on;
        for (const auto& slave : s.device.slaves) on += (on.empty() ? "" : ", ") + slave;
        out += "  " + s.device.name + " (" + s.device.kind + (on.empty() ? "" : " on " + on) + "): " +
               (s.free() ? std::string("assembled, free") : "in use: " + s.used_by) + "\n";
    }
    return out;
}

}  // namespace offroot
