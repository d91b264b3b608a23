#include "catch.hpp"

#include <string>
#include <vector>

#include "transitions/run_init.hpp"

using namespace offroot;
using Args = std::vector<std::string>;

namespace {

RunInitOptions parsed(const Args& args) {
    auto o = parse_run_init_args(args);
    if (!o) FAIL("parse_run_init_args failed: " << o.error().message());
    return std::move(o).value();
}

std::string error_of(const Args& args) {
    auto o = parse_run_init_args(args);
    REQUIRE_FALSE(o.ok());
    CHECK(o.error().err == 0);
    return o.error().message();
}

const std::string kUsage = "usage: run-init [-d caps] [-c console] [-n] newroot init [args...]";

}  // namespace

TEST_CASE("run-init args: newroot and init alone", "[run_init][args]") {
    auto o = parsed({"/root", "/sbin/init"});
    CHECK(o.new_root == "/root");
    CHECK(o.init == "/sbin/init");
    CHECK(o.init_args.empty());
    CHECK(o.console.empty());
    CHECK(o.drop_caps.empty());
    CHECK_FALSE(o.dry_run);
    // Fixed at boot unless the tests' environment seams change them.
    CHECK(o.cmdline_path == "/proc/cmdline");
    CHECK(o.manifest_path == "/etc/offroot/manifest");
}

TEST_CASE("run-init args: what initramfs-tools' init passes", "[run_init][args]") {
    // exec run-init ${drop_caps} "${rootmnt}" "${init}" "$@"
    auto o = parsed({"-d", "cap_sys_module,cap_sys_rawio", "-c", "/dev/console", "/root", "/sbin/init", "single",
                     "arg with space"});
    CHECK(o.drop_caps == "cap_sys_module,cap_sys_rawio");
    CHECK(o.console == "/dev/console");
    CHECK_FALSE(o.dry_run);
    CHECK(o.new_root == "/root");
    CHECK(o.init == "/sbin/init");
    CHECK(o.init_args == Args{"single", "arg with space"});
}

TEST_CASE("run-init args: -n is a dry run", "[run_init][args]") {
    auto o = parsed({"-n", "/root", "/sbin/init"});
    CHECK(o.dry_run);
    CHECK(o.new_root == "/root");
    CHECK(o.init == "/sbin/init");
    CHECK(o.init_args.empty());
}

TEST_CASE("run-init args: combined flags, the value glued or in the next word", "[run_init][args]") {
    auto glued = parsed({"-nc/dev/console", "-dcap_sys_module", "/root", "/sbin/init"});
    CHECK(glued.dry_run);
    CHECK(glued.console == "/dev/console");
    CHECK(glued.drop_caps == "cap_sys_module");
    CHECK(glued.new_root == "/root");
    CHECK(glued.init == "/sbin/init");

    auto next = parsed({"-nc", "/dev/ttyS0", "/root", "/sbin/init"});
    CHECK(next.dry_run);
    CHECK(next.console == "/dev/ttyS0");
    CHECK(next.new_root == "/root");

    // Everything after the option letter is its value, even other letters.
    auto greedy = parsed({"-cn", "/root", "/sbin/init"});
    CHECK(greedy.console == "n");
    CHECK_FALSE(greedy.dry_run);
}

TEST_CASE("run-init args: the last -c and -d win", "[run_init][args]") {
    auto o = parsed({"-c", "/dev/tty1", "-c", "/dev/console", "-d", "a", "-db", "/root", "/sbin/init"});
    CHECK(o.console == "/dev/console");
    CHECK(o.drop_caps == "b");
}

TEST_CASE("run-init args: options stop at newroot, init's arguments may start with '-'", "[run_init][args]") {
    auto o = parsed({"/root", "/lib/systemd/systemd", "--log-level=debug", "-n", "-c", "x", "--"});
    CHECK_FALSE(o.dry_run);
    CHECK(o.console.empty());
    CHECK(o.new_root == "/root");
    CHECK(o.init == "/lib/systemd/systemd");
    CHECK(o.init_args == Args{"--log-level=debug", "-n", "-c", "x", "--"});
}

TEST_CASE("run-init args: \"--\" ends the options", "[run_init][args]") {
    auto o = parsed({"-n", "--", "-odd-root", "/sbin/init", "-x"});
    CHECK(o.dry_run);
    CHECK(o.new_root == "-odd-root");
    CHECK(o.init == "/sbin/init");
    CHECK(o.init_args == Args{"-x"});
}

TEST_CASE("run-init args: a lone \"-\" is not an option", "[run_init][args]") {
    auto o = parsed({"-", "/sbin/init"});
    CHECK(o.new_root == "-");
    CHECK(o.init == "/sbin/init");
}

TEST_CASE("run-init args: missing newroot or init is a usage error", "[run_init][args]") {
    for (const Args& args : {Args{}, Args{"/root"}, Args{"-n", "/root"}, Args{"-c", "/dev/console", "/root"},
                             Args{"--", "/root"}}) {
        CAPTURE(args);
        CHECK(error_of(args) == "missing newroot or init; " + kUsage);
    }
}

TEST_CASE("run-init args: an option without its value is a usage error", "[run_init][args]") {
    CHECK(error_of({"-c"}) == "option -c needs a value; " + kUsage);
    CHECK(error_of({"-n", "-d"}) == "option -d needs a value; " + kUsage);
}

TEST_CASE("run-init args: an unknown option is a usage error naming it", "[run_init][args]") {
    CHECK(error_of({"-x", "/root", "/sbin/init"}) == "unknown option -x; " + kUsage);
    CHECK(error_of({"-nq", "/root", "/sbin/init"}) == "unknown option -q; " + kUsage);
    CHECK(error_of({"--help"}) == "unknown option --; " + kUsage);
}
