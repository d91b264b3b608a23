#include "kernel/meminfo.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {

Result<MemInfo> parse_meminfo(std::string_view text) {
    MemInfo info;
    struct Field {
        std::string_view name;
        uint64_t* value;
        bool seen = false;
    };
    std::array<Field, 6> fields{{
        {"MemTotal", &info.total_kib},
        {"MemFree", &info.free_kib},
        {"MemAvailable", &info.available_kib},
        {"Shmem", &info.shmem_kib},
        {"SwapTotal", &info.swap_total_kib},
        {"SwapFree", &info.swap_free_kib},
    }};

    for (std::string_view line : split_lines(text)) {
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = line.substr(0, colon);
        auto field = std::find_if(fields.begin(), fields.end(),
                                  [&](const Field& f) { return f.name == name; });
        if (field == fields.end()) continue;

        // "MemTotal:       24684100 kB"
        std::string_view rest = line.substr(colon + 1);
        size_t start = rest.find_first_not_of(" \t");
        if (start == std::string_view::npos)
            return plain_error("malformed meminfo line: " + quoted(std::string(line)));
        rest.remove_prefix(start);
        auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), *field->value);
        std::string_view unit(ptr, static_cast<size_t>(rest.data() + rest.size() - ptr));
        if (ec != std::errc() || (unit != " kB" && !unit.empty()))
            return plain_error("malformed meminfo line: " + quoted(std::string(line)));
        field->seen = true;
    }

    for (const Field& f : fields) {
        if (!f.seen) return plain_error("meminfo has no " + std::string(f.name) + " field");
    }
    return info;
}

Result<MemInfo> read_meminfo(const std::string& path) {
    return read_parsed(path, parse_meminfo);
}

}  // namespace offroot
