#include "base/text.hpp"

#include <algorithm>

namespace offroot {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) nl = text.size();
        lines.push_back(text.substr(0, nl));
        text.remove_prefix(std::min(nl + 1, text.size()));
    }
    return lines;
}

std::string join(const std::vector<std::string>& words, std::string_view separator) {
    std::string out;
    for (const auto& w : words) {
        if (!out.empty()) out += separator;
        out += w;
    }
    return out;
}

std::vector<std::string_view> split_fields(std::string_view text, std::string_view separators) {
    std::vector<std::string_view> fields;
    for (;;) {
        std::string_view field = next_field(text, separators);
        if (field.empty()) break;
        fields.push_back(field);
    }
    return fields;
}

std::string_view next_field(std::string_view& rest, std::string_view separators) {
    rest.remove_prefix(std::min(rest.find_first_not_of(separators), rest.size()));
    size_t end = std::min(rest.find_first_of(separators), rest.size());
    std::string_view field = rest.substr(0, end);
    rest.remove_prefix(end);
    return field;
}

}  // namespace offroot
