#include "system/ifupdown_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

bool is_dhcp(const std::string& iface, const std::vector<std::string>& dhcp_interfaces) {
    return std::find(dhcp_interfaces.begin(), dhcp_interfaces.end(), iface) != dhcp_interfaces.end();
}

}  // namespace

std::string ifstate_without(std::string_view ifstate, const std::vector<std::string>& dhcp_interfaces) {
    std::string out;
    for (const auto line : split_lines(ifstate)) {
        if (line.empty() || is_dhcp(std::string(line.substr(0, line.find('='))), dhcp_interfaces)) continue;
        out.append(line).append("\n");
    }
    return out;
}

Status carry_ifupdown_state(const std::string& from_run, const std::string& to_run,
                            const std::vector<std::string>& dhcp_interfaces, bool all_dhcp,
                            std::vector<std::string>& carried) {
    carried.clear();
    const std::string from = from_run + "/network", to = to_run + "/network";
    auto st = stat_path(from);
    if (!st || !S_ISDIR(st->st_mode) || all_dhcp) return {};
    auto names = list_dir(from);
    if (!names) return names.error();
    if (auto s = make_dir(to, 0755); !s) return s;
    for (const auto& name : *names) {
        const bool whole = name == "ifstate";
        const bool one = name.rfind("ifstate.", 0) == 0;
        if (!whole && !one) continue;  // dot files (lock, tmp) and anything else: ifupdown's own
        auto file = lstat_path(from + "/" + name);
        if (!file || !S_ISREG(file->st_mode)) continue;
        if (one && is_dhcp(name.substr(8), dhcp_interfaces)) continue;
        auto data = read_file(from + "/" + name);
        if (!data) return data.error();
        const std::string text = whole ? ifstate_without(*data, dhcp_interfaces) : *data;
        if (auto s = write_file(to + "/" + name, text, O_CREAT | O_TRUNC, file->st_mode & 07777); !s) return s;
        std::vector<std::string> ifaces;
        if (whole) {
            for (const auto line : split_lines(text))
                if (!line.empty()) ifaces.emplace_back(line.substr(0, line.find('=')));
        } else {
            ifaces.push_back(name.substr(8));
        }
        for (auto& iface : ifaces)
            if (std::find(carried.begin(), carried.end(), iface) == carried.end()) carried.push_back(std::move(iface));
    }
    return {};
}

}  // namespace offroot
