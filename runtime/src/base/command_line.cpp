#include "base/command_line.hpp"

#include <utility>

namespace offroot {

namespace {

bool is_option(const std::string& word) { return word.size() > 1 && word[0] == '-'; }

// The option `name` names, exactly or as the prefix of only one.
Result<const OptionSpec*> find_long(const std::vector<OptionSpec>& known, const std::string& name) {
    const OptionSpec* match = nullptr;
    std::string candidates;
    int matches = 0;
    for (const auto& o : known) {
        if (o.name == name) return &o;
        if (!name.empty() && o.name.compare(0, name.size(), name) == 0) {
            candidates += (candidates.empty() ? "'--" : ", '--") + o.name + "'";
            match = &o;
            ++matches;
        }
    }
    if (matches > 1) return plain_error("option '--" + name + "' is ambiguous and matches " + candidates);
    if (match == nullptr) return plain_error("unrecognised option '--" + name + "'");
    return match;
}

const OptionSpec* find_short(const std::vector<OptionSpec>& known, char c) {
    for (const auto& o : known)
        if (o.short_name != 0 && o.short_name == c) return &o;
    return nullptr;
}

}  // namespace

std::string ParsedOptions::value_or(const std::string& name, const std::string& fallback) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
}

CommandWords split_command(const std::vector<std::string>& args) {
    CommandWords w;
    bool options_ended = false;
    for (const auto& a : args) {
        if (w.command.empty() && !options_ended && a == "--") {
            options_ended = true;
            w.rest.push_back(a);
        } else if (w.command.empty() && (options_ended || !is_option(a))) {
            w.command = a;
        } else {
            w.rest.push_back(a);
        }
    }
    return w;
}

Result<ParsedOptions> parse_options(const std::vector<std::string>& words, const std::vector<OptionSpec>& known) {
    ParsedOptions parsed;
    auto store = [&parsed](const OptionSpec& o, std::string value) -> Result<void> {
        if (!parsed.values.emplace(o.name, std::move(value)).second)
            return plain_error("option '--" + o.name + "' cannot be specified more than once");
        return {};
    };
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w == "--") {
            parsed.positional.insert(parsed.positional.end(), words.begin() + static_cast<long>(i) + 1, words.end());
            break;
        }
        if (!is_option(w)) {
            parsed.positional.push_back(w);
            continue;
        }
        if (w[1] == '-') {
            const size_t eq = w.find('=');
            const std::string name = w.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            auto o = find_long(known, name);
            if (!o) return o.error();
            std::string value;
            if ((*o)->takes_value) {
                if (eq != std::string::npos) {
                    value = w.substr(eq + 1);
                } else if (i + 1 < words.size()) {
                    value = words[++i];
                } else {
                    return plain_error("the required argument for option '--" + (*o)->name + "' is missing");
                }
            } else if (eq != std::string::npos) {
                return plain_error("option '--" + (*o)->name + "' does not take any arguments");
            }
            if (auto s = store(**o, std::move(value)); !s) return s.error();
            continue;
        }
        for (size_t c = 1; c < w.size(); ++c) {
            const OptionSpec* o = find_short(known, w[c]);
            if (o == nullptr) return plain_error("unrecognised option '-" + std::string(1, w[c]) + "'");
            std::string value;
            if (o->takes_value) {
                // -xVALUE, or -x VALUE: the rest of the word is the value.
                if (c + 1 < w.size()) {
                    value = w.substr(c + 1);
                } else if (i + 1 < words.size()) {
                    value = words[++i];
                } else {
                    return plain_error("the required argument for option '--" + o->name + "' is missing");
                }
                c = w.size();
            }
            if (auto s = store(*o, std::move(value)); !s) return s.error();
        }
    }
    return parsed;
}

}  // namespace offroot
