// The kernel command line: what init was started as, and offroot's switch.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

class KernelCmdline {
public:
    static KernelCmdline parse(std::string_view text);
    static Result<KernelCmdline> read(const std::string& path = "/proc/cmdline");

    // Words before "--", quotes removed as the kernel removes them.
    const std::vector<std::string>& kernel_words() const { return kernel_words_; }
    // Everything after "--": the kernel hands it to init untouched.
    const std::vector<std::string>& after_dashes() const { return after_dashes_; }

    // Value of the last "name=value" (the kernel lets the last one win).
    std::optional<std::string> value(std::string_view name) const;
    bool has_word(std::string_view word) const;

    // init= or /sbin/init.
    std::string init_path() const;
    // The arguments the kernel passes to init: words without "=" and
    // without "." that no built-in kernel parameter consumes, then
    // everything after "--".
    std::vector<std::string> init_arguments() const;

    // offroot=off (or 0, no, false): boot exactly like the stock initramfs.
    bool offroot_disabled() const;

private:
    std::vector<std::string> kernel_words_;
    std::vector<std::string> after_dashes_;
};

}  // namespace offroot
