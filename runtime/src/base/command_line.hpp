// The admin's command line: `offroot [GLOBAL OPTIONS] COMMAND [OPTIONS]`.
//
// Parsed here rather than by Boost.Program_options: its compiled parser
// (cmdline.o, with a static std::ios_base::Init) and every option it is
// given (option_description::set_names, a std::stringstream) bring the C++
// locale machinery, iostreams and glibc's wide-character, gconv and strtold
// code into the static binary: 0.9 MB of 1.8 MB, held in RAM for the whole
// uptime by the emergency environment.
//
// The grammar is the one Boost's parser had: long options as --name,
// --name=VALUE or --name VALUE; an unambiguous prefix of a long name; short
// flags, clustered too (-nh); "--" ends the options; each option once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

struct OptionSpec {
    std::string name;       // long name, without "--"
    char short_name = 0;    // 0: none
    bool takes_value = false;
};

struct ParsedOptions {
    std::map<std::string, std::string> values;  // long name -> value ("" for a flag)
    std::vector<std::string> positional;

    bool given(const std::string& name) const { return values.count(name) > 0; }
    // The option's value, or `fallback` when it was not given.
    std::string value_or(const std::string& name, const std::string& fallback) const;
};

struct CommandWords {
    std::string command;             // empty: none given
    std::vector<std::string> rest;   // every other word, in order
};

// The command is the first word that is not an option. The global options
// take no value, so an option's value cannot be mistaken for it.
CommandWords split_command(const std::vector<std::string>& args);

// The words against the options `known`; the error names the first word
// that does not fit, in the words Boost's parser used.
Result<ParsedOptions> parse_options(const std::vector<std::string>& words, const std::vector<OptionSpec>& known);

}  // namespace offroot
