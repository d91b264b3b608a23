#include "base/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace offroot {
namespace {

LogSinks g_sinks;

void write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0) return;  // a log sink that fails is dropped, never fatal
        done += static_cast<size_t>(n);
    }
}

const char* prefix(LogLevel level) {
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
    if (!g_sinks.ram_log.empty()) {
        int fd = ::open(g_sinks.ram_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd >= 0) {
            write_all(fd, line);
            ::close(fd);
        }
    }
}

}  // namespace offroot
