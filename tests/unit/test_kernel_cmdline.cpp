#include "catch.hpp"

#include <optional>
#include <string>
#include <vector>

#include "kernel/kernel_cmdline.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;
using Words = std::vector<std::string>;

TEST_CASE("kernel command line: words split on blanks, the trailing newline dropped", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("BOOT_IMAGE=/vmlinuz-6.1.0-13-amd64 root=UUID=1234 ro\tquiet  \n");
    CHECK(c.kernel_words() == Words{"BOOT_IMAGE=/vmlinuz-6.1.0-13-amd64", "root=UUID=1234", "ro", "quiet"});
    CHECK(c.after_dashes().empty());
}

TEST_CASE("kernel command line: an empty or blank line has no words", "[kernel_cmdline]") {
    CHECK(KernelCmdline::parse("").kernel_words().empty());
    CHECK(KernelCmdline::parse(" \t\n").kernel_words().empty());
    CHECK(KernelCmdline::parse(" \t\n").after_dashes().empty());
}

TEST_CASE("kernel command line: double quotes keep blanks inside one word and are removed", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("foo=\"a b\" \"two words\" bar=\"x\ty\" plain");
    CHECK(c.kernel_words() == Words{"foo=a b", "two words", "bar=x\ty", "plain"});
    CHECK(c.value("foo") == std::optional<std::string>("a b"));
    CHECK(c.value("bar") == std::optional<std::string>("x\ty"));
}

TEST_CASE("kernel command line: the first \"--\" splits off init's words, later ones are init's", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("root=/dev/vda ro -- single x=y -- --log-level=debug");
    CHECK(c.kernel_words() == Words{"root=/dev/vda", "ro"});
    CHECK(c.after_dashes() == Words{"single", "x=y", "--", "--log-level=debug"});
    // Words after "--" are not kernel parameters.
    CHECK(c.value("x") == std::nullopt);
    CHECK_FALSE(c.has_word("single"));
}

TEST_CASE("kernel command line: \"--\" at the end leaves nothing for init", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("quiet --");
    CHECK(c.kernel_words() == Words{"quiet"});
    CHECK(c.after_dashes().empty());
}

TEST_CASE("kernel command line: the last name=value wins", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("init=/bin/a root=/dev/sda1 init=/bin/b root=UUID=x=y");
    CHECK(c.value("init") == std::optional<std::string>("/bin/b"));
    // Only the first '=' separates: the value keeps the others.
    CHECK(c.value("root") == std::optional<std::string>("UUID=x=y"));
    CHECK(c.init_path() == "/bin/b");
}

TEST_CASE("kernel command line: value() matches the whole name only", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("xinit=/bin/x initrd=/initrd.img init rdinit=/sbin/rd empty=");
    CHECK(c.value("init") == std::nullopt);
    CHECK(c.value("initrd") == std::optional<std::string>("/initrd.img"));
    CHECK(c.value("empty") == std::optional<std::string>(""));
    CHECK(c.value("missing") == std::nullopt);
}

TEST_CASE("kernel command line: has_word matches whole words before \"--\"", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse("ro quiet=1 -- single");
    CHECK(c.has_word("ro"));
    CHECK_FALSE(c.has_word("r"));
    CHECK_FALSE(c.has_word("quiet"));
    CHECK(c.has_word("quiet=1"));
    CHECK_FALSE(c.has_word("single"));
}

TEST_CASE("kernel command line: init defaults to /sbin/init", "[kernel_cmdline]") {
    CHECK(KernelCmdline::parse("root=/dev/vda ro").init_path() == "/sbin/init");
    CHECK(KernelCmdline::parse("").init_path() == "/sbin/init");
    // initramfs-tools searches from /sbin/init when init= is empty.
    CHECK(KernelCmdline::parse("init=").init_path() == "/sbin/init");
    CHECK(KernelCmdline::parse("init=/lib/systemd/systemd").init_path() == "/lib/systemd/systemd");
    // After "--" it is init's argument, not the kernel's choice of init.
    CHECK(KernelCmdline::parse("-- init=/bin/sh").init_path() == "/sbin/init");
}

TEST_CASE("kernel command line: init's arguments are the words the kernel does not consume", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse(
        "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet single splash 3 nomodeset foo.bar "
        "usbcore.autosuspend=-1 emergency debug rw \"two words\" -- --log-level=debug x=y a.b");
    // '=' words go to init's environment, '.' words are module parameters,
    // ro/quiet/nomodeset/debug/rw are the kernel's own; after "--" all is init's.
    CHECK(c.init_arguments() ==
          Words{"single", "splash", "3", "emergency", "two words", "--log-level=debug", "x=y", "a.b"});
}

TEST_CASE("kernel command line: every built-in flag is kept from init", "[kernel_cmdline]") {
    auto c = KernelCmdline::parse(
        "ro rw quiet debug nosmp noapic nolapic nomodeset noresume nokaslr nopti noefi earlyprintk nowatchdog");
    CHECK(c.init_arguments().empty());
}

TEST_CASE("kernel command line: runlevels and single reach init", "[kernel_cmdline]") {
    CHECK(KernelCmdline::parse("root=/dev/vda 1").init_arguments() == Words{"1"});
    CHECK(KernelCmdline::parse("S single 5").init_arguments() == Words{"S", "single", "5"});
    CHECK(KernelCmdline::parse("root=/dev/vda ro quiet").init_arguments().empty());
}

TEST_CASE("kernel command line: offroot=off, 0, no and false disable offroot", "[kernel_cmdline]") {
    for (const char* text : {"offroot=off", "offroot=0", "offroot=no", "offroot=false", "ro offroot=off quiet",
                             "offroot=on offroot=off"}) {
        INFO(text);
        CHECK(KernelCmdline::parse(text).offroot_disabled());
    }
}

TEST_CASE("kernel command line: offroot=on, other values and no offroot= keep offroot on", "[kernel_cmdline]") {
    for (const char* text : {"", "root=/dev/vda ro", "offroot=on", "offroot=1", "offroot=yes", "offroot=",
                             "offroot", "offroot=off offroot=on", "xoffroot=off", "offroot.x=off",
                             "-- offroot=off"}) {
        INFO(text);
        CHECK_FALSE(KernelCmdline::parse(text).offroot_disabled());
    }
}

TEST_CASE("kernel command line: read() parses a file and names a missing one", "[kernel_cmdline]") {
    TempDir dir("offroot-cmdline");
    const std::string file = dir / "cmdline";
    write_text(file, "root=/dev/vda offroot=off -- phase2\n");

    auto c = KernelCmdline::read(file);
    REQUIRE(c.ok());
    CHECK(c->offroot_disabled());
    CHECK(c->init_arguments() == Words{"phase2"});

    auto missing = KernelCmdline::read(dir / "nothing");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message() == missing_file_message(dir / "nothing"));
}
