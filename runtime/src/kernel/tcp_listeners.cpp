#include "kernel/tcp_listeners.hpp"

#include "base/files.hpp"
#include "base/text.hpp"

namespace offroot {

namespace {

constexpr std::string_view kListenState = "0A";  // TCP_LISTEN, include/net/tcp_states.h

}  // namespace

bool table_listens_on(std::string_view text, uint16_t port) {
    for (std::string_view line : split_lines(text)) {
        std::string_view rest = line;
        const std::string_view slot = next_field(rest, " \t");
        if (slot.empty() || slot.back() != ':') continue;  // the header, or garbage
        const std::string_view local = next_field(rest, " \t");
        (void)next_field(rest, " \t");  // the remote end
        const std::string_view state = next_field(rest, " \t");
        const size_t colon = local.rfind(':');
        if (colon == std::string_view::npos || state != kListenState) continue;
        uint32_t local_port = 0;
        if (parse_number(local.substr(colon + 1), local_port, 16) && local_port == port) return true;
    }
    return false;
}

Result<bool> tcp_port_listening(uint16_t port, const std::string& prefix) {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        const std::string path = prefix + table;
        if (std::string_view(table) == "/proc/net/tcp6" && !exists_nofollow(path)) continue;
        auto text = read_file(path);
        if (!text) return text.error();
        if (table_listens_on(*text, port)) return true;
    }
    return false;
}

}  // namespace offroot
