#include "kernel/loop_devices.hpp"

#include <algorithm>
#include <cerrno>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

// "loop12" -> 12; anything else (loop-control is not in /sys/block, but a
// renamed or foreign device could be) -> nullopt.
std::optional<unsigned> loop_number(std::string_view name) {
    constexpr std::string_view prefix = "loop";
    if (!name.starts_with(prefix) || name.size() == prefix.size()) return std::nullopt;
    std::string_view digits = name.substr(prefix.size());
    unsigned n = 0;
    if (!parse_number(digits, n)) return std::nullopt;
    return n;
}

std::string strip_newline(std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// The attribute is missing: the device is unbound, or was detached (its
// loop/ directory removed) while we listed.
bool unbound(int err) { return err == ENOENT || err == ENODEV || err == ENXIO; }

}  // namespace

Result<std::vector<LoopDevice>> scan_loop_devices(const std::string& sys_block) {
    auto names = list_dir(sys_block);
    if (!names) return names.error().context("listing loop devices");

    std::vector<std::pair<unsigned, std::string>> loops;
    for (const auto& name : *names) {
        if (auto n = loop_number(name)) loops.emplace_back(*n, name);
    }
    std::sort(loops.begin(), loops.end());

    std::vector<LoopDevice> out;
    for (const auto& [number, name] : loops) {
        const std::string dir = path_join(path_join(sys_block, name), "loop");
        auto backing = read_file(path_join(dir, "backing_file"));
        if (!backing) {
            if (unbound(backing.error().err)) continue;
            return backing.error();
        }
        auto autoclear = read_file(path_join(dir, "autoclear"));
        if (!autoclear) {
            if (unbound(autoclear.error().err)) continue;
            return autoclear.error();
        }

        LoopDevice d;
        d.name = name;
        d.device = "/dev/" + name;
        d.backing_file = strip_newline(std::move(*backing));
        if (d.backing_file.empty()) continue;
        if (d.backing_file.ends_with(kDeletedSuffix)) {
            d.backing_file.resize(d.backing_file.size() - kDeletedSuffix.size());
            d.deleted = true;
        }
        d.autoclear = strip_newline(std::move(*autoclear)) == "1";
        if (!d.deleted) {
            if (auto st = stat_path(d.backing_file)) d.backing_id = FileId{st->st_dev, st->st_ino};
        }
        out.push_back(std::move(d));
    }
    return out;
}

}  // namespace offroot
