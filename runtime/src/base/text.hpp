// Splitting and number parsing for the kernel's text files (/proc, /sys) and
// for command output. Each parser still decides its own separators: the
// formats differ in what a blank is (mountinfo: a space only; ip -o: also
// the backslash that folds its lines).
#pragma once

#include <charconv>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace offroot {

// The lines of `text`, without their '\n'. Empty lines are kept, so that a
// line's number is its index + 1; a final '\n' does not start another line.
std::vector<std::string_view> split_lines(std::string_view text);

// The words with `separator` between them: join({"a", "b"}, ", ") == "a, b".
std::string join(const std::vector<std::string>& words, std::string_view separator);

// The non-empty runs of characters that are not in `separators`:
// split_fields("a  b\tc", " \t") == {"a", "b", "c"}.
std::vector<std::string_view> split_fields(std::string_view text, std::string_view separators);

// Takes the next field off the front of `rest`: the separators before it
// are dropped, the one after it stays in `rest`. Empty when none is left.
std::string_view next_field(std::string_view& rest, std::string_view separators);

// All of `s` is one number in `base`, as std::from_chars reads it (no
// leading blank, no '+'); an empty `s` is not a number.
template <typename T>
bool parse_number(std::string_view s, T& out, int base = 10) {
    if (s.empty()) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace offroot
