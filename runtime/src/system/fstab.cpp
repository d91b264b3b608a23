#include "system/fstab.hpp"

#include <sys/stat.h>

#include "base/files.hpp"
#include "base/text.hpp"
#include "kernel/mountinfo.hpp"

namespace offroot {

std::optional<FstabEntry> fstab_root_entry(std::string_view fstab_text) {
    for (auto line : split_lines(fstab_text)) {
        auto fields = split_fields(line, " \t");
        if (fields.size() < 2 || fields[0].front() == '#') continue;
        FstabEntry e;
        e.spec = unescape_octal(fields[0]);
        e.mount_point = unescape_octal(fields[1]);
        if (fields.size() > 2) e.type = std::string(fields[2]);
        if (fields.size() > 3) e.options = std::string(fields[3]);
        if (e.mount_point == "/") return e;
    }
    return std::nullopt;
}

Result<std::string> rewrite_fstab_root(std::string_view fstab_text, const std::string& new_spec) {
    // The same line fstab_root_entry takes: the first that mounts "/".
    size_t start = 0;
    while (start < fstab_text.size()) {
        size_t end = fstab_text.find('\n', start);
        if (end == std::string_view::npos) end = fstab_text.size();
        const std::string_view line = fstab_text.substr(start, end - start);
        auto entry = fstab_root_entry(line);
        if (entry) {
            const size_t spec_at = line.find_first_not_of(" \t");
            const size_t spec_end = line.find_first_of(" \t", spec_at);
            std::string out(fstab_text.substr(0, start + spec_at));
            out += new_spec;
            out += fstab_text.substr(start + spec_end);
            return out;
        }
        start = end + 1;
    }
    return plain_error("/etc/fstab has no entry for /");
}

bool fstab_spec_names(const std::string& spec, const std::string& device, const FilesystemId& id) {
    auto value_of = [&](const char* prefix) -> std::optional<std::string> {
        const std::string p = prefix;
        if (spec.rfind(p, 0) != 0) return std::nullopt;
        std::string v = spec.substr(p.size());
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
        return v;
    };
    auto lower = [](std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    if (auto uuid = value_of("UUID=")) return !id.uuid.empty() && lower(*uuid) == id.uuid;
    if (auto label = value_of("LABEL=")) return !id.label.empty() && *label == id.label;
    auto same_device = [&device](const std::string& path) {
        auto a = stat_path(path), b = stat_path(device);
        return a && b && S_ISBLK(a->st_mode) && a->st_rdev == b->st_rdev;
    };
    if (spec.rfind("/", 0) == 0) return same_device(spec);
    // The partition table's names are not in the filesystem: udev's links
    // say which device holds them (PARTUUID in lowercase, as udev names it).
    if (auto partuuid = value_of("PARTUUID=")) return same_device("/dev/disk/by-partuuid/" + lower(*partuuid));
    if (auto partlabel = value_of("PARTLABEL=")) return same_device("/dev/disk/by-partlabel/" + *partlabel);
    return false;
}

Status check_fstab_names_root(const std::string& root_dir, const std::string& device) {
    auto text = read_file(root_dir + "/etc/fstab");
    if (!text) return {};
    auto entry = fstab_root_entry(*text);
    if (!entry) return {};
    if (entry->spec.rfind("PARTUUID=", 0) == 0 || entry->spec.rfind("PARTLABEL=", 0) == 0) return {};
    auto id = probe_filesystem_id(device);
    if (!id) return id.error();
    if (fstab_spec_names(entry->spec, device, *id)) return {};
    return plain_error("the new root's /etc/fstab mounts / from " + entry->spec + ", not " + device +
                           ": its init would check or remount another device (sysvinit stops at a maintenance "
                           "prompt, with no sshd)",
                       "point that line at the new root (UUID=" + (id->uuid.empty() ? std::string("?") : id->uuid) +
                           "), then offroot return --root " + device + " again");
}

}  // namespace offroot
