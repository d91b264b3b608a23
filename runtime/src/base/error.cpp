#include "base/result.hpp"

#include <cerrno>
#include <cstring>

namespace offroot {

std::string Error::message() const {
    std::string out = what;
    if (err != 0) {
        out += ": ";
        out += std::strerror(err);
        if (const char* name = strerrorname_np(err)) {
            out += " (";
            out += name;
            out += ")";
        }
    }
    if (!hint.empty()) {
        out += "; ";
        out += hint;
    }
    return out;
}

Error Error::context(const std::string& outer) const {
    Error e = *this;
    e.what = outer + ": " + what;
    return e;
}

Error sys_error(std::string call_with_args) { return sys_error(std::move(call_with_args), errno); }

Error sys_error(std::string call_with_args, int err) {
    return Error{std::move(call_with_args), err, {}};
}

Error plain_error(std::string what, std::string hint) {
    return Error{std::move(what), 0, std::move(hint)};
}

std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    out += '"';
    return out;
}

}  // namespace offroot
