#include "kernel/netlink.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace offroot {
namespace {

constexpr size_t kReceiveBuffer = 1 << 16;

size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

std::string error_what(const std::string& what) { return "netlink " + what; }

}  // namespace

const NlAttribute* NlMessage::find(uint16_t attr_type) const {
    for (const auto& a : attributes)
        if (a.type == attr_type) return &a;
    return nullptr;
}

void NlMessage::set(uint16_t attr_type, std::string data) {
    for (auto& a : attributes) {
        if (a.type == attr_type) {
            a.data = std::move(data);
            return;
        }
    }
    attributes.push_back(NlAttribute{attr_type, std::move(data)});
}

void NlMessage::erase(uint16_t attr_type) {
    attributes.erase(std::remove_if(attributes.begin(), attributes.end(),
                                    [&](const NlAttribute& a) { return a.type == attr_type; }),
                     attributes.end());
}

std::string NlMessage::encode(uint32_t seq) const {
    std::string body = header;
    body.resize(align4(body.size()), '\0');
    for (const auto& a : attributes) {
        struct nlattr na {};
        na.nla_len = static_cast<uint16_t>(NLA_HDRLEN + a.data.size());
        na.nla_type = a.type;
        body += bytes_of(na);
        body += a.data;
        body.resize(align4(body.size()), '\0');
    }
    struct nlmsghdr h {};
    h.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + body.size());
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    return bytes_of(h) + body;
}

std::vector<NlAttribute> decode_attributes(std::string_view bytes) {
    std::vector<NlAttribute> out;
    while (bytes.size() >= NLA_HDRLEN) {
        struct nlattr na {};
        std::memcpy(&na, bytes.data(), sizeof na);
        if (na.nla_len < NLA_HDRLEN || na.nla_len > bytes.size()) break;
        out.push_back(NlAttribute{static_cast<uint16_t>(na.nla_type & NLA_TYPE_MASK),
                                  std::string(bytes.substr(NLA_HDRLEN, na.nla_len - NLA_HDRLEN))});
        bytes.remove_prefix(std::min(bytes.size(), align4(na.nla_len)));
    }
    return out;
}

Result<std::vector<NlMessage>> decode_messages(std::string_view bytes, size_t header_size) {
    std::vector<NlMessage> out;
    while (!bytes.empty()) {
        struct nlmsghdr h {};
        if (bytes.size() < sizeof h) return plain_error("netlink: a truncated message header");
        std::memcpy(&h, bytes.data(), sizeof h);
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > bytes.size())
            return plain_error("netlink: a message of " + std::to_string(h.nlmsg_len) + " bytes in " +
                               std::to_string(bytes.size()));
        std::string_view payload = bytes.substr(NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN);
        NlMessage m;
        m.type = h.nlmsg_type;
        m.flags = h.nlmsg_flags;
        // Control messages (NLMSG_ERROR, NLMSG_DONE) carry their own
        // payload: kept whole as the header.
        const size_t hs = h.nlmsg_type < NLMSG_MIN_TYPE ? payload.size() : header_size;
        if (payload.size() < hs) return plain_error("netlink: message type " + std::to_string(h.nlmsg_type) + " is too short");
        m.header = std::string(payload.substr(0, hs));
        if (h.nlmsg_type >= NLMSG_MIN_TYPE) m.attributes = decode_attributes(payload.substr(std::min(payload.size(), align4(hs))));
        out.push_back(std::move(m));
        bytes.remove_prefix(std::min(bytes.size(), align4(h.nlmsg_len)));
    }
    return out;
}

std::string to_hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

Result<std::string> from_hex(std::string_view hex) {
    if (hex.size() % 2) return plain_error("an odd number of hex digits");
    auto value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = value(hex[i]), lo = value(hex[i + 1]);
        if (hi < 0 || lo < 0) return plain_error("not a hex digit in " + quoted(std::string(hex.substr(i, 2))));
        out += static_cast<char>(hi << 4 | lo);
    }
    return out;
}

uint32_t attribute_u32(const NlAttribute* a, uint32_t fallback) {
    if (a == nullptr || a->data.size() < 4) return fallback;
    uint32_t v;
    std::memcpy(&v, a->data.data(), 4);
    return v;
}

Result<RtNetlink> RtNetlink::open() {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return sys_error("socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)");
    UniqueFd owned(fd);
    // Extended acks carry the kernel's reason; failing to ask is harmless.
    int one = 1;
    (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    // A bounded wait: a kernel that never answers must not hang enter.
    struct timeval tv {10, 0};
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return sys_error("setsockopt(netlink, SO_RCVTIMEO)");
    return RtNetlink(std::move(owned));
}

Status RtNetlink::send(const NlMessage& message, uint32_t seq, const std::string& what) {
    const std::string bytes = message.encode(seq);
    struct sockaddr_nl kernel {};
    kernel.nl_family = AF_NETLINK;
    ssize_t n = ::sendto(fd_.get(), bytes.data(), bytes.size(), 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel);
    if (n != static_cast<ssize_t>(bytes.size())) return sys_error("sendto(netlink, " + what + ")");
    return {};
}

namespace {

// The errno of an NLMSG_ERROR (0 is an ack).
int error_of(const NlMessage& m) {
    struct nlmsgerr e {};
    std::memcpy(&e, m.header.data(), std::min(m.header.size(), sizeof e));
    return -e.error;
}

}  // namespace

Result<std::vector<NlMessage>> RtNetlink::dump(uint16_t type, uint8_t family, size_t header_size, const std::string& what) {
    // A dump that raced a change says so (NLM_F_DUMP_INTR): asked again.
    for (int attempt = 0; attempt < 5; ++attempt) {
        NlMessage req;
        req.type = type;
        req.flags = NLM_F_REQUEST | NLM_F_DUMP;
        // rtgenmsg's family is the first byte of every family header.
        req.header.assign(header_size, '\0');
        req.header[0] = static_cast<char>(family);
        const uint32_t seq = seq_++;
        if (auto s = send(req, seq, what); !s) return s.error();
        std::vector<NlMessage> out;
        bool interrupted = false;
        std::string buffer(kReceiveBuffer, '\0');
        for (;;) {
            auto messages = receive(buffer, header_size, what);
            if (!messages) return messages.error();
            bool done = false;
            for (auto& m : *messages) {
                if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
                if (m.type == NLMSG_DONE) {
                    done = true;
                    break;
                }
                if (m.type == NLMSG_ERROR) {
                    int err = error_of(m);
                    if (err == EINTR || err == EBUSY) {
                        interrupted = true;
                        done = true;
                        break;
                    }
                    return sys_error(error_what(what), err);
                }
                if (m.type >= NLMSG_MIN_TYPE) out.push_back(std::move(m));
            }
            if (done) break;
        }
        if (!interrupted) return out;
    }
    return plain_error(error_what(what) + ": the dump was interrupted by changes five times in a row", "run it again");
}

Result<std::vector<NlMessage>> RtNetlink::receive(std::string& buffer, size_t header_size, const std::string& what) {
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error("recv(netlink, " + what + ")");
        }
        auto messages = decode_messages(std::string_view(buffer.data(), static_cast<size_t>(n)), header_size);
        if (!messages) return messages.error().context(error_what(what));
        return messages;
    }
}

Status RtNetlink::request(const NlMessage& message, const std::string& what) {
    NlMessage m = message;
    m.flags |= NLM_F_REQUEST | NLM_F_ACK;
    const uint32_t seq = seq_++;
    if (auto s = send(m, seq, what); !s) return s;
    std::string buffer(kReceiveBuffer, '\0');
    for (;;) {
        auto messages = receive(buffer, 0, what);
        if (!messages) return messages.error();
        for (const auto& r : *messages) {
            if (r.type != NLMSG_ERROR) continue;
            int err = error_of(r);
            if (err != 0) return sys_error(error_what(what), err);
            return {};
        }
    }
}

Result<NlMessage> RtNetlink::query(const NlMessage& message, size_t header_size, const std::string& what) {
    NlMessage m = message;
    m.flags |= NLM_F_REQUEST;
    const uint32_t seq = seq_++;
    if (auto s = send(m, seq, what); !s) return s.error();
    std::string buffer(kReceiveBuffer, '\0');
    for (;;) {
        auto messages = receive(buffer, header_size, what);
        if (!messages) return messages.error();
        for (auto& r : *messages) {
            if (r.type == NLMSG_ERROR) {
                int err = error_of(r);
                return sys_error(error_what(what), err == 0 ? EPROTO : err);
            }
            if (r.type >= NLMSG_MIN_TYPE) return std::move(r);
        }
    }
}

}  // namespace offroot
