#include "kernel/mountinfo.hpp"

#include <sys/sysmacros.h>

#include <algorithm>
#include <set>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

bool has_option(const std::string& options, std::string_view name) {
    size_t start = 0;
    while (start <= options.size()) {
        size_t end = options.find(',', start);
        if (end == std::string::npos) end = options.size();
        if (std::string_view(options).substr(start, end - start) == name) return true;
        start = end + 1;
    }
    return false;
}

}  // namespace

dev_t MountEntry::dev() const { return makedev(major, minor); }

bool MountEntry::read_only() const { return has_option(mount_options, "ro"); }

std::string unescape_octal(std::string_view field) {
    auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && field.size() - i >= 4 && is_octal(field[i + 1]) &&
            is_octal(field[i + 2]) && is_octal(field[i + 3])) {
            int value = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
            out += static_cast<char>(value);
            i += 3;
            continue;
        }
        out += field[i];
    }
    return out;
}

Result<MountEntry> parse_mountinfo_line(std::string_view line) {
    auto bad = [&](const std::string& why) {
        return plain_error("malformed mountinfo line (" + why + "): " + quoted(std::string(line)));
    };
    // Blanks inside a field are escaped (\040): a space alone separates.
    auto fields = split_fields(line, " ");
    if (fields.size() < 9) return bad("fewer than 9 fields");

    MountEntry m;
    if (!parse_number(fields[0], m.id)) return bad("mount ID");
    if (!parse_number(fields[1], m.parent_id)) return bad("parent ID");
    auto colon = fields[2].find(':');
    if (colon == std::string_view::npos || !parse_number(fields[2].substr(0, colon), m.major) ||
        !parse_number(fields[2].substr(colon + 1), m.minor))
        return bad("major:minor");
    m.root = unescape_octal(fields[3]);
    m.mount_point = unescape_octal(fields[4]);
    m.mount_options = std::string(fields[5]);

    size_t i = 6;
    for (; i < fields.size() && fields[i] != "-"; ++i) {
        std::string_view tag = fields[i];
        auto tagged_number = [&](std::string_view prefix, int& out) {
            if (tag.substr(0, prefix.size()) != prefix) return false;
            return parse_number(tag.substr(prefix.size()), out);
        };
        if (tagged_number("shared:", m.shared_peer_group) || tagged_number("master:", m.master_peer_group) ||
            tagged_number("propagate_from:", m.propagate_from))
            continue;
        if (tag == "unbindable") {
            m.unbindable = true;
            continue;
        }
        // Fields added by future kernels are skipped, as proc(5) asks.
    }
    if (i >= fields.size()) return bad("no separator");
    if (fields.size() - i < 3) return bad("fields after the separator");
    m.fs_type = unescape_octal(fields[i + 1]);
    m.source = unescape_octal(fields[i + 2]);
    m.super_options = i + 3 < fields.size() ? std::string(fields[i + 3]) : std::string();
    return m;
}

Result<MountTable> MountTable::parse(std::string_view text) {
    std::vector<MountEntry> entries;
    for (std::string_view line : split_lines(text)) {
        if (line.empty()) continue;
        auto entry = parse_mountinfo_line(line);
        if (!entry) return entry.error();
        entries.push_back(std::move(*entry));
    }
    return MountTable(std::move(entries));
}

Result<MountTable> MountTable::read(const std::string& path) {
    return read_parsed(path, parse);
}

const MountEntry* MountTable::by_id(int id) const {
    for (const auto& m : entries_)
        if (m.id == id) return &m;
    return nullptr;
}

const MountEntry* MountTable::parent_of(const MountEntry& m) const {
    if (m.parent_id == m.id) return nullptr;
    return by_id(m.parent_id);
}

const MountEntry* MountTable::mount_of(const std::string& path) const {
    const MountEntry* best = nullptr;
    for (const auto& m : entries_) {
        if (!path_is_under(path, m.mount_point)) continue;
        if (best == nullptr || m.mount_point.size() > best->mount_point.size()) {
            best = &m;
            continue;
        }
        // Stacked on the same mount point: the one mounted on the other wins.
        if (m.mount_point == best->mount_point && m.parent_id == best->id) best = &m;
    }
    // A stack deeper than two may list the top before its parent: walk up.
    for (bool moved = true; best != nullptr && moved;) {
        moved = false;
        for (const auto& m : entries_) {
            if (m.parent_id == best->id && m.mount_point == best->mount_point && &m != best) {
                best = &m;
                moved = true;
                break;
            }
        }
    }
    return best;
}

std::vector<const MountEntry*> MountTable::mounts_under(const std::string& path) const {
    std::vector<const MountEntry*> out;
    for (const auto& m : entries_)
        if (path_is_under(m.mount_point, path)) out.push_back(&m);
    return out;
}

std::vector<const MountEntry*> MountTable::mounts_of_device(dev_t dev) const {
    std::vector<const MountEntry*> out;
    for (const auto& m : entries_)
        if (m.dev() == dev) out.push_back(&m);
    return out;
}

std::vector<const MountEntry*> MountTable::unmount_order(const std::string& path) const {
    auto mounts = mounts_under(path);
    // Height of each mount in its stack on one mount point: a mount whose
    // parent sits on the same mount point is above it.
    auto stack_height = [this](const MountEntry* m) {
        size_t height = 0;
        for (const MountEntry* p = parent_of(*m); p != nullptr && p->mount_point == m->mount_point;
             p = parent_of(*p)) {
            if (++height > entries_.size()) break;  // a cycle would be a kernel bug; do not hang
        }
        return height;
    };
    std::stable_sort(mounts.begin(), mounts.end(), [&](const MountEntry* a, const MountEntry* b) {
        size_t da = path_depth(a->mount_point), db = path_depth(b->mount_point);
        if (da != db) return da > db;
        return stack_height(a) > stack_height(b);
    });
    return mounts;
}

bool is_kernel_interface_fs(const std::string& fs_type) {
    static const std::set<std::string> kinds = {
        "proc",    "sysfs",     "devtmpfs", "devpts",   "cgroup",  "cgroup2",  "securityfs", "debugfs",
        "tracefs", "pstore",    "bpf",      "mqueue",   "hugetlbfs", "configfs", "fusectl",  "autofs",
        "efivarfs", "binfmt_misc", "rpc_pipefs", "nsfs"};
    return kinds.count(fs_type) > 0;
}

bool path_is_under(const std::string& path, const std::string& top) {
    if (top == "/") return !path.empty() && path[0] == '/';
    if (path.size() < top.size() || path.compare(0, top.size(), top) != 0) return false;
    return path.size() == top.size() || path[top.size()] == '/';
}

size_t path_depth(const std::string& path) {
    size_t depth = 0;
    bool in_component = false;
    for (char c : path) {
        if (c == '/') {
            in_component = false;
        } else if (!in_component) {
            in_component = true;
            ++depth;
        }
    }
    return depth;
}

}  // namespace offroot
