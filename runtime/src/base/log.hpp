// Logging for code that runs while the system is being taken apart: once
// journald is gone, the console and the kernel ring buffer are all that is
// left, so each line goes to stderr, /dev/kmsg and (optionally) a log file
// kept in RAM that `offroot status` shows.
#pragma once

#include <string>

namespace offroot {

enum class LogLevel { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

struct LogSinks {
    bool to_stderr = true;
    bool to_kmsg = false;
    std::string ram_log;  // empty: none
    std::string tag = "offroot";
};

void configure_log(const LogSinks& sinks);
void log(LogLevel level, const std::string& message);
inline void log_info(const std::string& m) { log(LogLevel::info, m); }
inline void log_warning(const std::string& m) { log(LogLevel::warning, m); }
inline void log_error(const std::string& m) { log(LogLevel::error, m); }

// The same line, for PID 1's loop and for failure paths that must work
// when memory is gone: formatted into a buffer on the stack (a message
// longer than ~400 bytes is cut), no allocation, no exception.
// `also_to`: a file the line is appended to as well (PID 1 writes to the
// log in RAM only where it knows "/" is the emergency environment).
void log_fixed(LogLevel level, const char* message, const char* also_to = nullptr) noexcept;

}  // namespace offroot
