#include "catch.hpp"
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/files.hpp"
#include "test_support.hpp"
#include "base/text.hpp"

using namespace offroot;
using namespace offroot::test;
using Views = std::vector<std::string_view>;

TEST_CASE("split_lines: empty lines kept, no line after the final newline", "[text]") {
    CHECK(split_lines("") == Views{});
    CHECK(split_lines("a") == Views{"a"});
    CHECK(split_lines("a\n") == Views{"a"});
    CHECK(split_lines("a\nb") == Views{"a", "b"});
    CHECK(split_lines("a\n\nb\n") == Views{"a", "", "b"});
    CHECK(split_lines("\n") == Views{""});
    CHECK(split_lines("\n\n") == Views{"", ""});
    CHECK(split_lines("a\n\n") == Views{"a", ""});
    // Only '\n' ends a line: the rest belongs to the line.
    CHECK(split_lines(" a \r\n\tb") == Views{" a \r", "\tb"});
}

TEST_CASE("split_lines: the lines are views into the text", "[text]") {
    std::string_view text = "one\ntwo\n";
    auto lines = split_lines(text);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].data() == text.data());
    CHECK(lines[1].data() == text.data() + 4);
}

TEST_CASE("split_fields: runs of separators, at either end too, make no empty field", "[text]") {
    CHECK(split_fields("", " ") == Views{});
    CHECK(split_fields("   ", " ") == Views{});
    CHECK(split_fields("a", " ") == Views{"a"});
    CHECK(split_fields("  a  b c  ", " ") == Views{"a", "b", "c"});
    CHECK(split_fields("a \t b\tc", " \t") == Views{"a", "b", "c"});
}

TEST_CASE("split_fields: only the given separators separate", "[text]") {
    // mountinfo: a space only; a tab stays in its field.
    CHECK(split_fields("a\tb c", " ") == Views{"a\tb", "c"});
    // ip -o: the backslash that folds a record's lines separates as well.
    CHECK(split_fields("2: ens3    inet 10.0.2.15/24 \\       valid_lft forever", " \t\\") ==
          Views{"2:", "ens3", "inet", "10.0.2.15/24", "valid_lft", "forever"});
    CHECK(split_fields("a\\b", " \t") == Views{"a\\b"});
    // A comma-separated list with empty items.
    CHECK(split_fields(",cap_chown,,sys_boot,", ",") == Views{"cap_chown", "sys_boot"});
}

TEST_CASE("next_field: leaves the separator after the field in the rest", "[text]") {
    std::string_view rest = "  12  a b  /path with  spaces ";
    CHECK(next_field(rest, " ") == "12");
    CHECK(rest == "  a b  /path with  spaces ");
    CHECK(next_field(rest, " ") == "a");
    CHECK(next_field(rest, " ") == "b");
    CHECK(rest == "  /path with  spaces ");

    std::string_view blank = " \t\n";
    CHECK(next_field(blank, " \t\n").empty());
    CHECK(blank.empty());

    std::string_view none;
    CHECK(next_field(none, " ").empty());
    CHECK(none.empty());

    std::string_view last = "x";
    CHECK(next_field(last, " ") == "x");
    CHECK(last.empty());
}

TEST_CASE("next_field: the separators are the caller's", "[text]") {
    // /proc/<pid>/stat ends with a newline: with '\n' a separator, the last
    // field comes without it.
    std::string_view stat = "0 0 2097152\n";
    CHECK(next_field(stat, " \t\n") == "0");
    CHECK(next_field(stat, " \t\n") == "0");
    CHECK(next_field(stat, " \t\n") == "2097152");
    CHECK(stat == "\n");

    std::string_view line = "0 2097152\n";
    CHECK(next_field(line, " \t") == "0");
    CHECK(next_field(line, " \t") == "2097152\n");
}

TEST_CASE("parse_number: the whole text, nothing else", "[text]") {
    int i = -7;
    CHECK(parse_number("42", i));
    CHECK(i == 42);
    CHECK(parse_number("-2", i));
    CHECK(i == -2);
    CHECK_FALSE(parse_number("", i));
    CHECK_FALSE(parse_number("+1", i));
    CHECK_FALSE(parse_number(" 1", i));
    CHECK_FALSE(parse_number("1 ", i));
    CHECK_FALSE(parse_number("12abc", i));
    CHECK_FALSE(parse_number("99999999999", i));  // out of range

    unsigned u = 0;
    CHECK_FALSE(parse_number("-1", u));
    CHECK(parse_number("4294967295", u));
    CHECK(u == 4294967295u);

    uint64_t big = 0;
    CHECK(parse_number("24684100", big));
    CHECK(big == 24684100);

    ino_t inode = 0;
    CHECK(parse_number("18446744073709551615", inode));
    CHECK(inode == static_cast<ino_t>(-1));
}

TEST_CASE("parse_number: other bases", "[text]") {
    int flags = 0;
    CHECK(parse_number("0100002", flags, 8));
    CHECK(flags == 0100002);
    CHECK_FALSE(parse_number("08", flags, 8));

    unsigned major = 0;
    CHECK(parse_number("fd", major, 16));
    CHECK(major == 0xfd);
    CHECK_FALSE(parse_number("0xfd", major, 16));
}

TEST_CASE("read_parsed: a parse error names the file, a read error names it once", "[files]") {
    TempDir dir;
    const std::string file = dir / "numbers";
    auto parse = [](std::string_view text) -> Result<std::vector<int>> {
        std::vector<int> out;
        for (std::string_view line : split_lines(text)) {
            int n = 0;
            if (!parse_number(line, n)) return plain_error("not a number: " + quoted(std::string(line)));
            out.push_back(n);
        }
        return out;
    };

    write_text(file, "1\n22\n");
    auto good = read_parsed(file, parse);
    REQUIRE(good.ok());
    CHECK(*good == std::vector<int>{1, 22});

    write_text(file, "1\nx\n");
    auto bad = read_parsed(file, parse);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message() == file + ": not a number: \"x\"");

    auto missing = read_parsed(dir / "none", parse);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message() == missing_file_message(dir / "none"));
}
