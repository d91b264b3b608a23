// Errors in the core are values: every function that can fail returns a
// Result<T>. The top of each executable turns the Error into one line and an
// exit code; nothing below it prints or exits.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace offroot {

struct Error {
    // "mount(\"/root\", \"/\", MS_MOVE)" or a plain description.
    std::string what;
    // errno of the failed call, 0 when the failure is not a syscall's.
    int err = 0;
    // What the admin should do about it, when we know.
    std::string hint;

    // "what: Invalid argument (EINVAL); hint"
    std::string message() const;

    // Prefixes context: error.context("moving the root aside").
    Error context(const std::string& outer) const;
};

// errno captured right after a failed syscall.
Error sys_error(std::string call_with_args);
Error sys_error(std::string call_with_args, int err);
Error plain_error(std::string what, std::string hint = {});

// Quoted for messages: paths may hold spaces.
std::string quoted(const std::string& s);

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return error_; }

private:
    Error error_;
    bool ok_ = true;
};

using Status = Result<void>;

}  // namespace offroot
