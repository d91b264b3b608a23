#include "system/journal_import.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "base/clock.hpp"
#include "base/fd.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "base/text.hpp"

namespace offroot {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The kernel prints unprintable bytes (and the backslash) as \xHH.
std::string unescape_kmsg(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' && hex_digit(s[i + 2]) >= 0 &&
            hex_digit(s[i + 3]) >= 0) {
            out += static_cast<char>(hex_digit(s[i + 2]) * 16 + hex_digit(s[i + 3]));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The wall clock in the local time zone, as the admin reads the rest of
// the journal: "17:02:11" in a message, "Dec  1 17:02:11" in a syslog header.
std::string clock_text(int64_t realtime_usec, bool with_date) {
    const time_t seconds = static_cast<time_t>(realtime_usec / 1000000);
    struct tm tm {};
    if (::localtime_r(&seconds, &tm) == nullptr) return "?";
    char buf[64];
    const size_t n = with_date ? std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm)
                               : std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return n == 0 ? std::string("?") : std::string(buf, n);
}

std::string utc_text(int64_t realtime_usec) {
    const time_t seconds = static_cast<time_t>(realtime_usec / 1000000);
    struct tm tm {};
    if (::gmtime_r(&seconds, &tm) == nullptr) return "?";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(realtime_usec % 1000000));
    return buf;
}

// One field of the native protocol: "NAME=value\n", or, for a value with
// a newline, "NAME\n", its size as a little-endian 64-bit number, the value
// and "\n".
void append_field(std::string& out, const char* name, const std::string& value) {
    out += name;
    if (value.find('\n') == std::string::npos) {
        out += '=';
        out += value;
    } else {
        out += '\n';
        uint64_t size = value.size();
        for (int i = 0; i < 8; ++i) out += static_cast<char>((size >> (8 * i)) & 0xff);
        out += value;
    }
    out += '\n';
}

int64_t realtime_minus_monotonic_usec() {
    struct timespec real {}, mono {};
    ::clock_gettime(CLOCK_REALTIME, &real);
    ::clock_gettime(CLOCK_MONOTONIC, &mono);
    return (static_cast<int64_t>(real.tv_sec) - static_cast<int64_t>(mono.tv_sec)) * 1000000 +
           (static_cast<int64_t>(real.tv_nsec) - static_cast<int64_t>(mono.tv_nsec)) / 1000;
}

bool is_kernel(const KmsgRecord& r) { return (r.priority >> 3) == 0; }

Result<CycleRecord> read_cycle_record(const std::string& path) {
    auto text = read_file(path);
    if (!text) return text.error();
    auto record = parse_cycle_record(*text);
    if (!record) return record.error().context(path);
    return record;
}

// The marks of enter and return: a warning when they cannot be made, the
// transition goes on (the log stays in the buffer, in dmesg).
void warn_unmarked(const Error& e) {
    log_warning("the journal import after return will not have this cycle: " + e.message());
}

Result<UniqueFd> connect_datagram(const std::string& path, int wait_seconds) {
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return plain_error("socket path too long: " + quoted(path));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    const double deadline = monotonic_seconds() + wait_seconds;
    for (;;) {
        int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return sys_error("socket(AF_UNIX, SOCK_DGRAM)");
        UniqueFd owned(fd);
        if (::connect(fd, reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) == 0) {
            // Bounded: a log daemon that stopped reading must not hold the
            // boot or the return; the rest is left for the next run.
            struct timeval tv {2, 0};
            if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
                return sys_error("setsockopt(" + quoted(path) + ", SO_SNDTIMEO)");
            return owned;
        }
        const int err = errno;
        // Not there yet (the daemon is starting) is worth the wait; any
        // other failure is not.
        if ((err != ENOENT && err != ECONNREFUSED) || monotonic_seconds() >= deadline)
            return sys_error("connect(" + quoted(path) + ")", err);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace

Result<std::vector<KmsgRecord>> parse_kmsg(std::string_view stream) {
    std::vector<KmsgRecord> out;
    for (std::string_view line : split_lines(stream)) {
        if (line.empty() || line.front() == ' ') continue;  // a continuation: KEY=VALUE of the record before
        const size_t semicolon = line.find(';');
        if (semicolon == std::string_view::npos) return plain_error("malformed kmsg record: " + quoted(std::string(line)));
        std::string_view rest = line.substr(0, semicolon);
        KmsgRecord r;
        const std::string_view pri = next_field(rest, ","), seq = next_field(rest, ","), usec = next_field(rest, ",");
        if (!parse_number(pri, r.priority) || !parse_number(seq, r.seq) || !parse_number(usec, r.usec))
            return plain_error("malformed kmsg record header: " + quoted(std::string(line.substr(0, semicolon))));
        r.text = unescape_kmsg(line.substr(semicolon + 1));
        out.push_back(std::move(r));
    }
    return out;
}

Result<std::vector<KmsgRecord>> read_kmsg(const std::string& path) {
    // Non-blocking: /dev/kmsg would wait for the next record at the end.
    auto fd = open_path(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!fd) return fd.error();
    std::string stream;
    char buf[8192 + 1];  // a record is at most 8 KiB (journald reads it with the same buffer)
    // Bounded: one record a read, and the largest ring buffer (32 MiB) holds
    // fewer than a million.
    for (int reads = 0; reads < (1 << 20); ++reads) {
        const ssize_t n = ::read(fd->get(), buf, sizeof buf - 1);
        if (n > 0) {
            stream.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) break;  // a file (the tests'), not the device
        if (errno == EAGAIN) break;  // the end of the buffer
        if (errno == EINTR || errno == EPIPE) continue;  // EPIPE: overwritten under us, the next one follows
        return sys_error("read(" + quoted(path) + ")");
    }
    return parse_kmsg(stream);
}

Result<uint64_t> next_kmsg_seq(const std::string& path) {
    auto records = read_kmsg(path);
    if (!records) return records.error();
    return records->empty() ? uint64_t{0} : records->back().seq + 1;
}

std::string serialize(const CycleRecord& r) {
    return "ENTER=" + std::to_string(r.enter) + "\nDETACHED=" + std::to_string(r.detached) +
           "\nRETURN=" + std::to_string(r.returned) + "\nFROM=" + std::to_string(r.from) +
           "\nTO=" + std::to_string(r.to) + "\nIMPORTED=" + std::to_string(r.imported) +
           "\nJOURNALD=" + std::to_string(r.journald) +
           "\nSINK=" + (r.sink == LogSink::journal ? "journal" : "syslog") + "\n";
}

Result<CycleRecord> parse_cycle_record(std::string_view text) {
    CycleRecord r;
    int seen = 0;
    for (const std::string_view line : split_lines(text)) {
        if (line.empty()) continue;
        const size_t eq = line.find('=');
        if (eq == std::string_view::npos) return plain_error("malformed cycle record line " + quoted(std::string(line)));
        const std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
        if (key == "SINK") {
            if (value != "journal" && value != "syslog") return plain_error("unknown SINK " + quoted(std::string(value)));
            r.sink = value == "journal" ? LogSink::journal : LogSink::syslog;
            ++seen;
            continue;
        }
        uint64_t* field = key == "ENTER"      ? &r.enter
                          : key == "DETACHED" ? &r.detached
                          : key == "RETURN"   ? &r.returned
                          : key == "FROM"     ? &r.from
                          : key == "TO"       ? &r.to
                          : key == "IMPORTED" ? &r.imported
                          : key == "JOURNALD" ? &r.journald
                                              : nullptr;
        if (field == nullptr) continue;  // a newer offroot's field
        if (!parse_number(value, *field)) return plain_error("malformed " + std::string(key) + " in the cycle record");
        if (field != &r.journald) ++seen;  // optional: 0, or missing in an older record, is "unknown"
    }
    if (seen < 7) return plain_error("incomplete cycle record");
    return r;
}

Status write_cycle_record(const std::string& path, const CycleRecord& record) {
    return replace_file(path, serialize(record), 0600);
}

std::string phase_of(const CycleRecord& cycle, uint64_t seq) {
    if (cycle.returned != 0 && seq >= cycle.returned) return "return";
    if (cycle.detached != 0 && seq >= cycle.detached) return "detached";
    return "enter";
}

SyslogParts split_identifier(const KmsgRecord& record) {
    if (is_kernel(record)) return {"kernel", record.text};
    // "tag: text" or "tag[pid]: text", as journald's syslog parser reads it.
    const size_t colon = record.text.find(": ");
    const size_t space = record.text.find(' ');
    if (colon == std::string::npos || colon == 0 || space < colon) return {"", record.text};
    std::string identifier = record.text.substr(0, colon);
    if (const size_t bracket = identifier.find('['); bracket != std::string::npos) identifier.resize(bracket);
    return {identifier, record.text.substr(colon + 2)};
}

std::string format_journal_entry(const KmsgRecord& record, const std::string& phase, int64_t realtime_offset_usec) {
    const int64_t when = realtime_offset_usec + static_cast<int64_t>(record.usec);
    const SyslogParts parts = split_identifier(record);
    std::string out;
    // The original time first in the text: journalctl shows the time of
    // the import in front of it, and a client cannot set
    // _SOURCE_REALTIME_TIMESTAMP (journald keeps underscore fields for
    // itself).
    append_field(out, "MESSAGE", "[" + phase + " " + clock_text(when, false) + "] " + parts.message);
    append_field(out, "PRIORITY", std::to_string(record.priority & 7));
    append_field(out, "SYSLOG_FACILITY", std::to_string(record.priority >> 3));
    if (!parts.identifier.empty()) append_field(out, "SYSLOG_IDENTIFIER", parts.identifier);
    append_field(out, "OFFROOT_PHASE", phase);
    append_field(out, "OFFROOT_TIME", utc_text(when));
    append_field(out, "OFFROOT_KMSG_SEQ", std::to_string(record.seq));
    append_field(out, "OFFROOT_KMSG_USEC", std::to_string(record.usec));
    return out;
}

std::string format_syslog_line(const KmsgRecord& record, const std::string& phase, int64_t realtime_offset_usec) {
    const int64_t when = realtime_offset_usec + static_cast<int64_t>(record.usec);
    const SyslogParts parts = split_identifier(record);
    constexpr int kFacilityDaemon = 3;
    std::string message = parts.message;
    std::replace(message.begin(), message.end(), '\n', ' ');  // one datagram is one line for syslog
    // RFC 3164: "<PRI>Mmm dd hh:mm:ss TAG: MSG"; the daemon adds the host.
    return "<" + std::to_string(kFacilityDaemon * 8 + (record.priority & 7)) + ">" + clock_text(when, true) +
           " " + (parts.identifier.empty() ? std::string("offroot") : parts.identifier) + ": [" + phase + "] " + message;
}

void mark_cycle_enter() {
    auto next = next_kmsg_seq();
    if (!next) return warn_unmarked(next.error());
    CycleRecord cycle;
    cycle.enter = *next;
    if (auto s = write_cycle_record(kCycleRecord, cycle); !s) warn_unmarked(s.error());
}

namespace {

void mark(uint64_t CycleRecord::*field) {
    auto cycle = read_cycle_record(kCycleRecord);
    if (!cycle) return warn_unmarked(cycle.error());
    auto next = next_kmsg_seq();
    if (!next) return warn_unmarked(next.error());
    (*cycle).*field = *next;
    if (auto s = write_cycle_record(kCycleRecord, *cycle); !s) warn_unmarked(s.error());
}

// journald's place in the buffer, as it left it when enter stopped it.
std::optional<uint64_t> read_journald_seqnum(const std::string& path) {
    auto text = read_file(path);
    if (!text || text->size() < sizeof(uint64_t)) return std::nullopt;
    uint64_t seqnum = 0;
    std::memcpy(&seqnum, text->data(), sizeof seqnum);  // mmapped by journald: native byte order
    return seqnum;
}

}  // namespace

void mark_cycle_detached() { mark(&CycleRecord::detached); }
void mark_cycle_return() { mark(&CycleRecord::returned); }

void mark_cycle_journald_place(const std::string& real_run) {
    auto journald = read_journald_seqnum(real_run + kJournaldKernelSeqnum);
    if (!journald) return;  // none: this journald does not read the buffer (ReadKMsg=no)
    auto cycle = read_cycle_record(kCycleRecord);
    if (!cycle) return warn_unmarked(cycle.error());
    cycle->journald = *journald;
    if (auto s = write_cycle_record(kCycleRecord, *cycle); !s) warn_unmarked(s.error());
}

void mark_cycle_handover(const std::string& new_run, bool sysvinit) {
    auto cycle = read_cycle_record(kCycleRecord);
    if (!cycle) return warn_unmarked(cycle.error());
    auto next = next_kmsg_seq();
    if (!next) return warn_unmarked(next.error());
    cycle->imported = 0;
    if (sysvinit) {
        // Nothing of offroot's reached syslog: the whole cycle, up to the
        // end of return (the import closes the range then).
        cycle->sink = LogSink::syslog;
        cycle->from = cycle->enter;
        cycle->to = 0;
        if (auto s = write_cycle_record(kCycleRecord, *cycle); !s) warn_unmarked(s.error());
        return;
    }
    // The fresh /run would have journald read the whole buffer again, the
    // boot's records a second time: it gets a place, here. What lies
    // between its place at enter and here is the import's; with no place
    // kept (ReadKMsg=no, which the file does not change) none of the cycle
    // is in the journal.
    for (const std::string& d : {new_run + "/systemd", new_run + "/systemd/journal"})
        if (auto s = make_dir(d, 0755); !s) return warn_unmarked(s.error());
    const uint64_t seqnum = *next;
    std::string bytes(sizeof seqnum, '\0');
    std::memcpy(bytes.data(), &seqnum, sizeof seqnum);
    if (auto s = write_file(new_run + kJournaldKernelSeqnum, bytes, O_CREAT | O_EXCL | O_NOFOLLOW, 0644); !s)
        return warn_unmarked(s.error());
    cycle->sink = LogSink::journal;
    cycle->from = cycle->journald != 0 ? std::min(cycle->journald, *next) : cycle->enter;
    cycle->to = *next;
    if (auto s = write_cycle_record(kCycleRecord, *cycle); !s) warn_unmarked(s.error());
}

Result<ImportReport> import_cycle_log(const ImportOptions& options) {
    ImportReport report;
    if (!exists_nofollow(options.record_path)) {
        report.summary = "no cycle recorded (" + options.record_path + "), nothing to import";
        return report;
    }
    auto cycle = read_cycle_record(options.record_path);
    if (!cycle) return cycle.error();
    if (cycle->to == 0 && cycle->returned != 0 && options.close_range) {
        auto next = next_kmsg_seq(options.kmsg_path);
        if (!next) return next.error();
        cycle->to = *next;
        if (auto s = write_cycle_record(options.record_path, *cycle); !s) return s.error();
    }
    if (cycle->to == 0) {
        report.summary = "the cycle has not returned yet, nothing to import";
        return report;
    }
    const uint64_t start = std::max(cycle->from, cycle->imported);
    const char* sink_name = cycle->sink == LogSink::journal ? "the journal" : "syslog";
    if (start >= cycle->to) {
        report.summary = std::string("the cycle is in ") + sink_name + " already, nothing to import";
        return report;
    }
    auto records = read_kmsg(options.kmsg_path);
    if (!records) return records.error();
    const std::string& socket_path = cycle->sink == LogSink::journal ? options.journal_socket : options.syslog_socket;
    auto sock = connect_datagram(socket_path, options.wait_seconds);
    if (!sock) return sock.error().context(std::string("no ") + sink_name + " to import the cycle into");

    const int64_t offset = realtime_minus_monotonic_usec();
    uint64_t lost = 0;
    if (!records->empty() && records->front().seq > start) lost = std::min(records->front().seq, cycle->to) - start;
    for (const KmsgRecord& r : *records) {
        if (r.seq < start || r.seq >= cycle->to) continue;
        // syslog: rsyslog's imklog reads the kernel's own from /proc/kmsg.
        if (cycle->sink == LogSink::syslog && is_kernel(r)) continue;
        const std::string phase = phase_of(*cycle, r.seq);
        const std::string datagram = cycle->sink == LogSink::journal ? format_journal_entry(r, phase, offset)
                                                                     : format_syslog_line(r, phase, offset);
        if (::send(sock->get(), datagram.data(), datagram.size(), MSG_NOSIGNAL) < 0)
            return sys_error("send(" + quoted(socket_path) + ", record " + std::to_string(r.seq) + ")")
                .context("importing the cycle (" + std::to_string(report.sent) + " records sent, the rest on the next offroot import-log)");
        ++report.sent;
        // Marked after each record: a second run (or one after a crash)
        // starts after the last one sent.
        cycle->imported = r.seq + 1;
        if (auto s = write_cycle_record(options.record_path, *cycle); !s) return s.error();
    }
    cycle->imported = cycle->to;
    if (auto s = write_cycle_record(options.record_path, *cycle); !s) return s.error();
    report.summary = std::to_string(report.sent) + " records of the cycle (kernel sequence " + std::to_string(start) +
                     " to " + std::to_string(cycle->to - 1) + ") sent to " + sink_name;
    if (lost > 0)
        report.summary += "; " + std::to_string(lost) +
                          " were overwritten in the kernel ring buffer before the import (offroot's own lines are "
                          "still in /var/lib/offroot/log in the emergency environment)";
    return report;
}

}  // namespace offroot
