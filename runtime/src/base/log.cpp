#include "base/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace offroot {
namespace {

LogSinks g_sinks;

void write_all(int fd, const char* data, size_t size) noexcept {
    size_t done = 0;
    while (done < size) {
        ssize_t n = ::write(fd, data + done, size - done);
        if (n <= 0) return;  // a log sink that fails is dropped, never fatal
        done += static_cast<size_t>(n);
    }
}
void write_all(int fd, const std::string& data) { write_all(fd, data.data(), data.size()); }

void append_fixed(const char* path, const char* line, size_t size) noexcept {
    int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return;
    write_all(fd, line, size);
    ::close(fd);
}

const char* prefix(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::error: return "error: ";
        case LogLevel::warning: return "warning: ";
        default: return "";
    }
}

// One record per line of the message, each one write: /dev/kmsg takes a
// write as one record and refuses one longer than its limit (1024 bytes
// with the header since 5.10, 992 before) whole, with EINVAL; a command's
// output logged in one message would be lost there, and the import after
// return reads the buffer record by record (system/journal_import.hpp).
// Opened anew for each record: the kernel rate-limits writes per open file
// (printk_devkmsg=ratelimit, 10 in 5 s), not per writer.
void write_kmsg(LogLevel level, const std::string& message) {
    constexpr size_t kMaxText = 900;
    const std::string head = "<" + std::to_string(static_cast<int>(level)) + ">" + g_sinks.tag + ": ";
    std::string first = prefix(level);
    size_t start = 0;
    do {
        size_t end = message.find('\n', start);
        if (end == std::string::npos) end = message.size();
        const size_t size = std::min(end - start, kMaxText);
        // A message's last newline ends it; it starts no empty record.
        if (size > 0 || start == 0) {
            int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
            if (fd < 0) return;
            write_all(fd, head + first + message.substr(start, size) + "\n");
            ::close(fd);
        }
        first.clear();
        start = size < end - start ? start + size : end + 1;
    } while (start < message.size());
}

}  // namespace

void configure_log(const LogSinks& sinks) { g_sinks = sinks; }

void log(LogLevel level, const std::string& message) {
    const std::string line = g_sinks.tag + ": " + prefix(level) + message + "\n";
    if (g_sinks.to_stderr) write_all(STDERR_FILENO, line);
    if (g_sinks.to_kmsg) write_kmsg(level, message);
    if (!g_sinks.ram_log.empty()) append_fixed(g_sinks.ram_log.c_str(), line.data(), line.size());
}

void log_fixed(LogLevel level, const char* message, const char* also_to) noexcept {
    // "<N>" for kmsg first; stderr and the RAM log get the line after it.
    char line[512];
    int n = std::snprintf(line, sizeof line, "<%d>%s: %s%s\n", static_cast<int>(level), g_sinks.tag.c_str(),
                          prefix(level), message);
    if (n < 0) return;
    size_t size = static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n) : sizeof line - 1;
    if (size > 0 && line[size - 1] != '\n') line[size - 1] = '\n';
    const size_t mark = static_cast<size_t>(std::strchr(line, '>') - line) + 1;
    if (g_sinks.to_stderr) write_all(STDERR_FILENO, line + mark, size - mark);
    if (g_sinks.to_kmsg) {
        int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            write_all(fd, line, size);
            ::close(fd);
        }
    }
    if (!g_sinks.ram_log.empty()) append_fixed(g_sinks.ram_log.c_str(), line + mark, size - mark);
    if (also_to != nullptr && g_sinks.ram_log != also_to) append_fixed(also_to, line + mark, size - mark);
}

}  // namespace offroot
