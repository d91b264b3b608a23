#include "catch.hpp"

#include <string>
#include <vector>

#include "base/command_line.hpp"

using namespace offroot;
using Words = std::vector<std::string>;

namespace {

const std::vector<OptionSpec> kReturn{{"help", 'h', false}, {"json", 0, false},  {"root", 0, true},
                                      {"fsck", 0, false},   {"dry-run", 'n', false}, {"dry-run-plan", 0, false}};

std::string problem_of(const Words& words, const std::vector<OptionSpec>& known = kReturn) {
    auto parsed = parse_options(words, known);
    REQUIRE_FALSE(parsed.ok());
    return parsed.error().message();
}

}  // namespace

TEST_CASE("split_command: the first word that is not an option is the command", "[command_line]") {
    auto w = split_command({"--json", "return", "--root", "/dev/vdb"});
    CHECK(w.command == "return");
    CHECK(w.rest == Words{"--json", "--root", "/dev/vdb"});
    CHECK(split_command({"--json"}).command.empty());
    CHECK(split_command({}).command.empty());
    // After "--" even a word that looks like an option is the command.
    auto ended = split_command({"--", "-x"});
    CHECK(ended.command == "-x");
    CHECK(ended.rest == Words{"--"});
    // A lone "-" is a word, not an option.
    CHECK(split_command({"-"}).command == "-");
}

TEST_CASE("parse_options: --name, --name=VALUE, --name VALUE", "[command_line]") {
    auto p = parse_options({"--root=/dev/vdb", "--fsck", "--json"}, kReturn);
    REQUIRE(p.ok());
    CHECK(p->value_or("root", "") == "/dev/vdb");
    CHECK(p->given("fsck"));
    CHECK(p->given("json"));
    CHECK_FALSE(p->given("help"));
    CHECK(p->value_or("help", "none") == "none");

    auto spaced = parse_options({"--root", "/dev/vdb"}, kReturn);
    REQUIRE(spaced.ok());
    CHECK(spaced->value_or("root", "") == "/dev/vdb");
    CHECK(spaced->positional.empty());
    // The value is taken as it is, even when it starts with a dash.
    auto dashed = parse_options({"--root", "--fsck"}, kReturn);
    REQUIRE(dashed.ok());
    CHECK(dashed->value_or("root", "") == "--fsck");
    CHECK_FALSE(dashed->given("fsck"));
    auto empty = parse_options({"--root="}, kReturn);
    REQUIRE(empty.ok());
    CHECK(empty->given("root"));
    CHECK(empty->value_or("root", "x").empty());
}

TEST_CASE("parse_options: unambiguous prefixes; an exact name wins over longer ones", "[command_line]") {
    auto p = parse_options({"--fs", "--ro=/dev/vdb"}, kReturn);
    REQUIRE(p.ok());
    CHECK(p->given("fsck"));
    CHECK(p->value_or("root", "") == "/dev/vdb");
    // "dry-run" is a name of its own and a prefix of "dry-run-plan".
    auto exact = parse_options({"--dry-run"}, kReturn);
    REQUIRE(exact.ok());
    CHECK(exact->given("dry-run"));
    CHECK_FALSE(exact->given("dry-run-plan"));
    CHECK(problem_of({"--dry"}) == "option '--dry' is ambiguous and matches '--dry-run', '--dry-run-plan'");
}

TEST_CASE("parse_options: short flags, clustered too", "[command_line]") {
    auto p = parse_options({"-nh"}, kReturn);
    REQUIRE(p.ok());
    CHECK(p->given("dry-run"));
    CHECK(p->given("help"));
    const std::vector<OptionSpec> with_value{{"root", 'r', true}, {"fsck", 'f', false}};
    auto joined = parse_options({"-f/dev/x"}, with_value);
    CHECK_FALSE(joined.ok());  // -f takes no value: "/" is an unknown flag
    auto v = parse_options({"-fr/dev/vdb"}, with_value);
    REQUIRE(v.ok());
    CHECK(v->value_or("root", "") == "/dev/vdb");
    auto next = parse_options({"-r", "/dev/vdb"}, with_value);
    REQUIRE(next.ok());
    CHECK(next->value_or("root", "") == "/dev/vdb");
}

TEST_CASE("parse_options: words that are not options, and \"--\"", "[command_line]") {
    auto p = parse_options({"/dev/vdb", "--fsck", "--", "--json"}, kReturn);
    REQUIRE(p.ok());
    CHECK(p->positional == Words{"/dev/vdb", "--json"});
    CHECK(p->given("fsck"));
    CHECK_FALSE(p->given("json"));
}

TEST_CASE("parse_options: each problem named as the admin typed it", "[command_line]") {
    CHECK(problem_of({"--force"}) == "unrecognised option '--force'");
    CHECK(problem_of({"-x"}) == "unrecognised option '-x'");
    CHECK(problem_of({"--root"}) == "the required argument for option '--root' is missing");
    CHECK(problem_of({"--fsck=yes"}) == "option '--fsck' does not take any arguments");
    CHECK(problem_of({"--fsck", "--fs"}) == "option '--fsck' cannot be specified more than once");
    CHECK(problem_of({"-n", "--dry-run"}) == "option '--dry-run' cannot be specified more than once");
}
