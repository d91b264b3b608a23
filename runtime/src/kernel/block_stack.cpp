#include "kernel/block_stack.hpp"

#include <algorithm>
#include <cerrno>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

std::string first_line(const std::string& path) {
    auto text = read_file(path);
    if (!text) return "";
    return text->substr(0, text->find('\n'));
}

std::vector<std::string> entries(const std::string& dir) {
    auto names = list_dir(dir);
    return names ? *names : std::vector<std::string>{};
}

}  // namespace

std::string dm_kind(const std::string& dm_uuid) {
    if (dm_uuid.rfind("LVM-", 0) == 0) return "lvm";
    if (dm_uuid.rfind("CRYPT-", 0) == 0) return "crypt";
    if (dm_uuid.rfind("mpath-", 0) == 0) return "multipath";
    return "dm";
}

Result<std::vector<StackedDevice>> read_block_stack(const std::string& sys_block) {
    auto names = list_dir(sys_block);
    if (!names) return names.error();
    std::vector<StackedDevice> out;
    for (const auto& kernel_name : *names) {
        const std::string dir = path_join(sys_block, kernel_name);
        StackedDevice d;
        d.kernel_name = kernel_name;
        if (kernel_name.rfind("dm-", 0) == 0) {
            d.name = first_line(dir + "/dm/name");
            d.kind = dm_kind(first_line(dir + "/dm/uuid"));
        } else if (kernel_name.rfind("md", 0) == 0 && exists_nofollow(dir + "/md")) {
            d.name = kernel_name;
            d.kind = first_line(dir + "/md/level");
            if (d.kind.empty()) d.kind = "md";
        } else {
            continue;
        }
        if (d.name.empty()) d.name = kernel_name;
        d.slaves = entries(dir + "/slaves");
        d.holders = entries(dir + "/holders");
        const std::string numbers = first_line(dir + "/dev");  // "253:1"
        std::string_view rest = numbers;
        parse_number(next_field(rest, ":"), d.major);
        parse_number(next_field(rest, ":"), d.minor);
        out.push_back(std::move(d));
    }
    return out;
}

namespace {

std::string last_component(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

void add_once(std::vector<std::string>& list, const std::string& item) {
    for (const auto& x : list)
        if (x == item) return;
    list.push_back(item);
}

void walk_lineage(const std::string& kernel_name, const std::string& sys_block, BlockLineage& out, int depth) {
    // A stack deeper than this is a loop in a broken tree, not storage.
    if (depth > 16) return;
    const std::string dir = path_join(sys_block, kernel_name);
    if (kernel_name.rfind("dm-", 0) == 0) add_once(out.kinds, dm_kind(first_line(dir + "/dm/uuid")));
    if (kernel_name.rfind("md", 0) == 0 && exists_nofollow(dir + "/md")) {
        const std::string level = first_line(dir + "/md/level");
        add_once(out.kinds, level.empty() ? "md" : level);
    }
    // Sorted: the order of a mirror's disks must not depend on readdir.
    auto slaves = entries(dir + "/slaves");
    std::sort(slaves.begin(), slaves.end());
    for (const auto& s : slaves) {
        add_once(out.members, s);
        walk_lineage(s, sys_block, out, depth + 1);
    }
    if (!slaves.empty()) return;
    // A partition's entry links into its disk's directory: .../vda/vda5.
    if (exists_nofollow(dir + "/partition")) {
        auto target = read_link(dir);
        if (!target) return;
        std::string parent = *target;
        parent.resize(parent.find_last_of('/') == std::string::npos ? 0 : parent.find_last_of('/'));
        if (!parent.empty()) add_once(out.disks, last_component(parent));
        return;
    }
    add_once(out.disks, kernel_name);
}

}  // namespace

BlockLineage read_lineage(const std::string& kernel_name, const std::string& sys_block) {
    BlockLineage out;
    walk_lineage(kernel_name, sys_block, out, 0);
    return out;
}

Result<std::string> kernel_name_of(unsigned major, unsigned minor, const std::string& sys_dev_block) {
    auto target = read_link(sys_dev_block + "/" + std::to_string(major) + ":" + std::to_string(minor));
    if (!target) return target.error();
    return last_component(*target);
}

}  // namespace offroot
