// rtnetlink, spoken directly: offroot is static and the emergency
// environment has only busybox's ip, whose output differs from iproute2's
// and drops what it does not know (rule attributes, route preferences,
// lifetimes). A message is kept as bytes, so that what enter recorded can be
// parsed again by return and replayed to the kernel as it was dumped.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.hpp"
#include "base/result.hpp"

namespace offroot {

// One netlink message: the header's type and flags, the family header that
// follows it (ifaddrmsg, rtmsg, fib_rule_hdr, ifinfomsg) and its attributes.
struct NlAttribute {
    uint16_t type = 0;  // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    std::string data;
};

struct NlMessage {
    uint16_t type = 0;
    uint16_t flags = 0;
    std::string header;  // the family header, as bytes
    std::vector<NlAttribute> attributes;

    const NlAttribute* find(uint16_t attr_type) const;
    // Replaces the first attribute of that type, or appends it.
    void set(uint16_t attr_type, std::string data);
    void erase(uint16_t attr_type);

    // The whole message with nlmsghdr, ready to send.
    std::string encode(uint32_t seq) const;
};

// Parses a buffer of one or more netlink messages (a recv()'s worth);
// `header_size` is the family header's size for these message types.
// Fails on a truncated or malformed message.
Result<std::vector<NlMessage>> decode_messages(std::string_view bytes, size_t header_size);

// Nested attributes (IFLA_LINKINFO, RTA_MULTIPATH's are not nested).
std::vector<NlAttribute> decode_attributes(std::string_view bytes);

// Hex for the record file, and back.
std::string to_hex(std::string_view bytes);
Result<std::string> from_hex(std::string_view hex);

template <typename T>
std::string bytes_of(const T& value) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}
// The family header as a struct; zero-filled when it is shorter.
template <typename T>
T header_as(const NlMessage& m) {
    T out{};
    std::copy_n(m.header.data(), std::min(m.header.size(), sizeof out), reinterpret_cast<char*>(&out));
    return out;
}
uint32_t attribute_u32(const NlAttribute* a, uint32_t fallback = 0);

class RtNetlink {
public:
    // socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE).
    static Result<RtNetlink> open();

    // NLM_F_DUMP of `type` (RTM_GETADDR, ...) for `family` (AF_UNSPEC: all).
    // `what` names the dump in errors.
    Result<std::vector<NlMessage>> dump(uint16_t type, uint8_t family, size_t header_size, const std::string& what);

    // One request with NLM_F_ACK; the kernel's error as an Error naming
    // `what` (with its errno: EEXIST, ENETUNREACH, ...).
    Status request(const NlMessage& message, const std::string& what);

    // A request that answers with one message (RTM_GETROUTE for a
    // destination).
    Result<NlMessage> query(const NlMessage& message, size_t header_size, const std::string& what);

private:
    explicit RtNetlink(UniqueFd fd) : fd_(std::move(fd)) {}
    Status send(const NlMessage& message, uint32_t seq, const std::string& what);
    // The messages of the next datagram the kernel sends us.
    Result<std::vector<NlMessage>> receive(std::string& buffer, size_t header_size, const std::string& what);
    UniqueFd fd_;
    uint32_t seq_ = 1;
};

}  // namespace offroot
