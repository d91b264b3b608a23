#include "base/log.hpp"

#include <fcntl.h>
#include <unistd.h>

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

}  // namespace

void configure_log(const LogSinks& sinks) { g_sinks = sinks; }

void log(LogLevel level, const std::string& message) {
    const std::string line = g_sinks.tag + ": " + prefix(level) + message + "\n";
    if (g_sinks.to_stderr) write_all(STDERR_FILENO, line);
    if (g_sinks.to_kmsg) {
        // One write per record: /dev/kmsg takes each write as one message.
        int fd = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            write_all(fd, "<" + std::to_string(static_cast<int>(level)) + ">" + line);
            ::close(fd);
        }
    }
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
