#include "unix_sockets.hpp"

#include <algorithm>
#include <charconv>

#include "files.hpp"

namespace offroot {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view next_token(std::string_view& s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    size_t end = 0;
    while (end < s.size() && !is_space(s[end])) ++end;
    std::string_view token = s.substr(0, end);
    s.remove_prefix(end);
    return token;
}

}  // namespace

Result<std::vector<UnixSocket>> parse_proc_net_unix(std::string_view text) {
    std::vector<UnixSocket> out;
    bool first = true;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(std::min(nl + 1, text.size()));
        if (first) {
            first = false;
            if (line.starts_with("Num")) continue;
        }
        if (line.empty()) continue;

        // "Num: RefCount Protocol Flags Type St Inode[ Path]"
        std::string_view rest = line;
        for (int i = 0; i < 6; ++i) {
            if (next_token(rest).empty())
                return plain_error("malformed /proc/net/unix line: " + quoted(std::string(line)));
        }
        std::string_view inode = next_token(rest);
        UnixSocket s;
        auto [ptr, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), s.inode);
        if (inode.empty() || ec != std::errc() || ptr != inode.data() + inode.size())
            return plain_error("malformed inode in /proc/net/unix line: " +
                               quoted(std::string(line)));
        // The kernel writes one space and then the name verbatim up to the
        // newline: a name may contain (or begin with) spaces.
        if (!rest.empty()) {
            s.path = std::string(rest.substr(1));
            s.abstract = !s.path.empty() && s.path.front() == '@';
        }
        out.push_back(std::move(s));
    }
    return out;
}

Result<std::vector<UnixSocket>> read_unix_sockets(const std::string& path) {
    auto text = read_file(path);
    if (!text) return text.error();
    auto sockets = parse_proc_net_unix(*text);
    if (!sockets) return sockets.error().context(path);
    return sockets;
}

}  // namespace offroot
