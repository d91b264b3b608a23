#include "kernel/block_stack.hpp"

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

}  // namespace offroot
