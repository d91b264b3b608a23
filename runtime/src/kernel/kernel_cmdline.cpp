#include "kernel/kernel_cmdline.hpp"

#include <algorithm>
#include <array>

#include "base/files.hpp"

namespace offroot {
namespace {

// Built-in parameters without "=" that the kernel consumes itself and so
// never passes to init; "single", "splash", runlevels do reach init.
constexpr std::array<std::string_view, 14> kConsumedByKernel = {
    "ro", "rw", "quiet", "debug", "nosmp", "noapic", "nolapic", "nomodeset", "noresume",
    "nokaslr", "nopti", "noefi", "earlyprintk", "nowatchdog",
};

}  // namespace

KernelCmdline KernelCmdline::parse(std::string_view text) {
    KernelCmdline out;
    bool dashes_seen = false;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
        if (i >= text.size()) break;
        std::string word;
        bool in_quotes = false;
        for (; i < text.size(); ++i) {
            char c = text[i];
            if (c == '"') {
                in_quotes = !in_quotes;
                continue;
            }
            if (!in_quotes && (c == ' ' || c == '\t' || c == '\n')) break;
            word += c;
        }
        if (!dashes_seen && word == "--") {
            dashes_seen = true;
            continue;
        }
        (dashes_seen ? out.after_dashes_ : out.kernel_words_).push_back(std::move(word));
    }
    return out;
}

Result<KernelCmdline> KernelCmdline::read(const std::string& path) {
    auto text = read_file(path);
    if (!text) return text.error();
    return parse(*text);
}

std::optional<std::string> KernelCmdline::value(std::string_view name) const {
    std::optional<std::string> found;
    for (const auto& w : kernel_words_) {
        if (w.size() > name.size() && w.compare(0, name.size(), name) == 0 && w[name.size()] == '=')
            found = w.substr(name.size() + 1);
    }
    return found;
}

bool KernelCmdline::has_word(std::string_view word) const {
    return std::find(kernel_words_.begin(), kernel_words_.end(), word) != kernel_words_.end();
}

std::string KernelCmdline::init_path() const {
    auto init = value("init");
    return init && !init->empty() ? *init : std::string("/sbin/init");
}

std::vector<std::string> KernelCmdline::init_arguments() const {
    std::vector<std::string> args;
    for (const auto& w : kernel_words_) {
        if (w.find('=') != std::string::npos || w.find('.') != std::string::npos) continue;
        if (std::find(kConsumedByKernel.begin(), kConsumedByKernel.end(), w) != kConsumedByKernel.end()) continue;
        args.push_back(w);
    }
    args.insert(args.end(), after_dashes_.begin(), after_dashes_.end());
    return args;
}

bool KernelCmdline::offroot_disabled() const {
    auto v = value("offroot");
    return v && (*v == "off" || *v == "0" || *v == "no" || *v == "false");
}

}  // namespace offroot
