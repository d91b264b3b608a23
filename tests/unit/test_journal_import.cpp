#include "catch.hpp"

#include <time.h>

#include <cstdlib>
#include <string>

#include "system/journal_import.hpp"
#include "test_support.hpp"

using namespace offroot;
using offroot::test::TempDir;

namespace {

// The clock the formatters print in: local time, made UTC here.
void utc() {
    ::setenv("TZ", "UTC0", 1);
    ::tzset();
}

// 2025-12-01 17:02:11 UTC minus 100 s since boot: a record at usec
// 100'500'000 happened at 17:02:11.5.
constexpr int64_t kOffset = 1764608531'000000 - 100'000000;

}  // namespace

TEST_CASE("kmsg records are parsed with their continuation lines and escapes", "[journal-import]") {
    // As read(2) of /dev/kmsg returns them one after another (the kernel's
    // own, one with a device, offroot's worker and offroot-init).
    const std::string stream =
        "6,1201,100500000,-;EXT4-fs (vda1): unmounting filesystem.\n"
        " SUBSYSTEM=block\n"
        " DEVICE=b254:1\n"
        "14,1202,101000000,-;offroot: enter: DETACHED: \\x5cdev\\x5cvda1 is free\n"
        "13,1203,102000000,c,more;offroot-init: a\\x0atwo-line message\n";
    auto records = parse_kmsg(stream);
    REQUIRE(records.ok());
    REQUIRE(records->size() == 3);
    CHECK((*records)[0].priority == 6);
    CHECK((*records)[0].seq == 1201);
    CHECK((*records)[0].usec == 100500000);
    CHECK((*records)[0].text == "EXT4-fs (vda1): unmounting filesystem.");
    CHECK((*records)[1].priority == 14);
    CHECK((*records)[1].text == "offroot: enter: DETACHED: \\dev\\vda1 is free");
    CHECK((*records)[2].seq == 1203);
    CHECK((*records)[2].text == "offroot-init: a\ntwo-line message");
}

TEST_CASE("a kmsg record without its header is refused", "[journal-import]") {
    CHECK_FALSE(parse_kmsg("6,1201,100500000,- no semicolon\n").ok());
    CHECK_FALSE(parse_kmsg("six,1201,100500000,-;text\n").ok());
    CHECK_FALSE(parse_kmsg("6,1201;text\n").ok());
    auto empty = parse_kmsg("");
    REQUIRE(empty.ok());
    CHECK(empty->empty());
}

TEST_CASE("the cycle record round-trips and refuses what is incomplete", "[journal-import]") {
    CycleRecord r{100, 140, 170, 120, 190, 150, LogSink::syslog, 97};
    const std::string text = serialize(r);
    CHECK(text == "ENTER=100\nDETACHED=140\nRETURN=170\nFROM=120\nTO=190\nIMPORTED=150\nJOURNALD=97\nSINK=syslog\n");
    auto back = parse_cycle_record(text);
    REQUIRE(back.ok());
    CHECK(back->enter == 100);
    CHECK(back->detached == 140);
    CHECK(back->returned == 170);
    CHECK(back->from == 120);
    CHECK(back->to == 190);
    CHECK(back->imported == 150);
    CHECK(back->sink == LogSink::syslog);
    CHECK(back->journald == 97);
    // journald's place is optional: an older offroot's record has none.
    auto older = parse_cycle_record("ENTER=1\nDETACHED=2\nRETURN=3\nFROM=1\nTO=4\nIMPORTED=0\nSINK=journal\n");
    REQUIRE(older.ok());
    CHECK(older->journald == 0);
    CHECK_FALSE(parse_cycle_record("ENTER=100\nTO=3\n").ok());
    CHECK_FALSE(parse_cycle_record(text + "TO=x\n").ok());
    CHECK_FALSE(parse_cycle_record("ENTER=1\nDETACHED=2\nRETURN=3\nFROM=1\nTO=4\nIMPORTED=0\nSINK=console\n").ok());
}

TEST_CASE("the cycle record is written whole, by rename", "[journal-import]") {
    TempDir dir;
    const std::string path = dir / "journal-import";
    CycleRecord r{7, 8, 9, 7, 10, 7, LogSink::journal};
    REQUIRE(write_cycle_record(path, r).ok());
    r.imported = 10;
    REQUIRE(write_cycle_record(path, r).ok());
    auto text = read_file(path);
    REQUIRE(text.ok());
    CHECK(*text == serialize(r));
    CHECK_FALSE(exists_nofollow(path + ".new"));
}

TEST_CASE("a record's phase comes from the marks enter and return left", "[journal-import]") {
    const CycleRecord cycle{100, 140, 170, 120, 190, 0, LogSink::journal};
    CHECK(phase_of(cycle, 120) == "enter");
    CHECK(phase_of(cycle, 139) == "enter");
    CHECK(phase_of(cycle, 140) == "detached");
    CHECK(phase_of(cycle, 169) == "detached");
    CHECK(phase_of(cycle, 170) == "return");
    // An enter that never reached DETACHED: all of it is enter's.
    CHECK(phase_of(CycleRecord{100, 0, 0, 100, 0, 0, LogSink::journal}, 150) == "enter");
}

TEST_CASE("the identifier is the writer's tag, or kernel", "[journal-import]") {
    auto parts = split_identifier(KmsgRecord{14, 1, 1, "offroot: enter: stopping"});
    CHECK(parts.identifier == "offroot");
    CHECK(parts.message == "enter: stopping");
    parts = split_identifier(KmsgRecord{30, 1, 1, "systemd[1]: Started x."});
    CHECK(parts.identifier == "systemd");
    CHECK(parts.message == "Started x.");
    parts = split_identifier(KmsgRecord{6, 1, 1, "EXT4-fs (vda1): unmounting filesystem."});
    CHECK(parts.identifier == "kernel");
    CHECK(parts.message == "EXT4-fs (vda1): unmounting filesystem.");
    // Text that names no tag keeps all it has.
    parts = split_identifier(KmsgRecord{14, 1, 1, "a line with no tag: here"});
    CHECK(parts.identifier.empty());
    CHECK(parts.message == "a line with no tag: here");
}

TEST_CASE("a journal entry keeps the original time, phase and sequence", "[journal-import]") {
    utc();
    const KmsgRecord r{12, 1202, 100500000, "offroot: enter: stopped 12 processes"};
    CHECK(format_journal_entry(r, "enter", kOffset) ==
          "MESSAGE=[enter 17:02:11] enter: stopped 12 processes\n"
          "PRIORITY=4\n"
          "SYSLOG_FACILITY=1\n"
          "SYSLOG_IDENTIFIER=offroot\n"
          "OFFROOT_PHASE=enter\n"
          "OFFROOT_TIME=2025-12-01T17:02:11.500000Z\n"
          "OFFROOT_KMSG_SEQ=1202\n"
          "OFFROOT_KMSG_USEC=100500000\n");
}

TEST_CASE("a journal entry with a newline in its message uses the binary framing", "[journal-import]") {
    utc();
    const KmsgRecord r{6, 9, 100000000, "line one\nline two"};
    const std::string entry = format_journal_entry(r, "detached", kOffset);
    const std::string message = "[detached 17:02:11] line one\nline two";
    std::string size(8, '\0');
    size[0] = static_cast<char>(message.size());
    CHECK(entry.rfind("MESSAGE\n" + size + message + "\nPRIORITY=6\nSYSLOG_FACILITY=0\nSYSLOG_IDENTIFIER=kernel\n", 0) == 0);
}

TEST_CASE("a syslog line is RFC 3164 with facility daemon and the original time", "[journal-import]") {
    utc();
    CHECK(format_syslog_line(KmsgRecord{11, 5, 100500000, "offroot-init: handing PID 1 back to /sbin/init"}, "return",
                             kOffset) == "<27>Dec  1 17:02:11 offroot-init: [return] handing PID 1 back to /sbin/init");
    CHECK(format_syslog_line(KmsgRecord{14, 5, 100500000, "no tag\nsecond line"}, "detached", kOffset) ==
          "<30>Dec  1 17:02:11 offroot: [detached] no tag second line");
}
