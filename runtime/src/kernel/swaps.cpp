#include "kernel/swaps.hpp"

#include "base/files.hpp"
#include "kernel/mountinfo.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Takes the last whitespace-separated token off the end of `s`.
std::string_view last_token(std::string_view& s) {
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    size_t start = s.size();
    while (start > 0 && !is_space(s[start - 1])) --start;
    std::string_view token = s.substr(start);
    s.remove_suffix(s.size() - start);
    return token;
}

}  // namespace

Result<std::vector<SwapArea>> parse_proc_swaps(std::string_view text) {
    std::vector<SwapArea> out;
    auto lines = split_lines(text);
    if (!lines.empty() && lines.front().starts_with("Filename")) lines.erase(lines.begin());  // the header
    for (std::string_view line : lines) {
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;

        auto bad = [&](const char* field) {
            return plain_error(std::string("malformed ") + field + " in /proc/swaps line: " +
                               quoted(std::string(line)));
        };
        // The kernel escapes blanks in the file name, but the numeric columns
        // are the dependable part of the line: take them from the right.
        std::string_view rest = line;
        SwapArea a;
        if (!parse_number(last_token(rest), a.priority)) return bad("priority");
        if (!parse_number(last_token(rest), a.used_kib)) return bad("used");
        if (!parse_number(last_token(rest), a.size_kib)) return bad("size");
        a.type = std::string(last_token(rest));
        if (a.type.empty()) return bad("type");
        while (!rest.empty() && is_space(rest.back())) rest.remove_suffix(1);
        if (rest.empty()) return bad("filename");
        a.filename = unescape_octal(rest);
        out.push_back(std::move(a));
    }
    return out;
}

Result<std::vector<SwapArea>> read_swaps(const std::string& path) {
    return read_parsed(path, parse_proc_swaps);
}

}  // namespace offroot
