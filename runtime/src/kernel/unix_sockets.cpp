#include "kernel/unix_sockets.hpp"

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {

Result<std::vector<UnixSocket>> parse_proc_net_unix(std::string_view text) {
    std::vector<UnixSocket> out;
    auto lines = split_lines(text);
    if (!lines.empty() && lines.front().starts_with("Num")) lines.erase(lines.begin());  // the header
    for (std::string_view line : lines) {
        if (line.empty()) continue;

        // "Num: RefCount Protocol Flags Type St Inode[ Path]"
        std::string_view rest = line;
        for (int i = 0; i < 6; ++i) {
            if (next_field(rest, " \t").empty())
                return plain_error("malformed /proc/net/unix line: " + quoted(std::string(line)));
        }
        UnixSocket s;
        if (!parse_number(next_field(rest, " \t"), s.inode))
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
    return read_parsed(path, parse_proc_net_unix);
}

}  // namespace offroot
