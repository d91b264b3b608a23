#include "catch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/files.hpp"
#include "system/offline_tools.hpp"

using namespace offroot;

namespace {

const ToolWanted* find(const std::vector<ToolWanted>& w, const std::string& name) {
    for (const auto& t : w)
        if (t.name == name) return &t;
    return nullptr;
}

const ToolCommand* command(const ToolPlan& p, const std::string& name) {
    for (const auto& c : p.commands)
        if (c.name == name) return &c;
    return nullptr;
}

}  // namespace

TEST_CASE("tools_wanted: e2fsprogs always, e2fsck essential only on an ext root", "[tools]") {
    auto xfs = tools_wanted(ToolNeeds{"xfs", {"xfs"}, {}, {}});
    REQUIRE(find(xfs, "e2fsck") != nullptr);
    CHECK_FALSE(find(xfs, "e2fsck")->essential);
    CHECK(find(xfs, "xfs_repair") != nullptr);
    CHECK_FALSE(find(xfs, "xfs_repair")->optional);
    CHECK(find(xfs, "mkfs.xfs")->optional);
    CHECK(find(xfs, "lvm") == nullptr);

    auto ext = tools_wanted(ToolNeeds{"ext4", {"ext4", "vfat"}, {}, {}});
    CHECK(find(ext, "e2fsck")->essential);
    CHECK_FALSE(find(ext, "resize2fs")->essential);
    CHECK(find(ext, "mkfs.ext4")->optional);
    CHECK(find(ext, "xfs_repair") == nullptr);
    CHECK(find(ext, "btrfs") == nullptr);
}

TEST_CASE("tools_wanted: the storage stack's tools, each once; TOOLS last", "[tools]") {
    auto w = tools_wanted(ToolNeeds{"btrfs", {"btrfs", "ext4"}, {"lvm", "crypt", "raid1"}, {"sgdisk", "/opt/x/bin/y"}});
    for (const char* name : {"lvm", "cryptsetup", "mdadm", "btrfs", "lvreduce", "dmsetup", "sgdisk", "/opt/x/bin/y"})
        CHECK(find(w, name) != nullptr);
    CHECK(std::count_if(w.begin(), w.end(), [](const ToolWanted& t) { return t.name == "dmsetup"; }) == 1);
    CHECK_FALSE(find(w, "lvm")->optional);
    CHECK(find(w, "lvreduce")->optional);
    CHECK(find(w, "sgdisk")->why == "offroot.conf TOOLS");
    CHECK_FALSE(find(w, "sgdisk")->optional);
    CHECK(w.back().name == "/opt/x/bin/y");
    // md's linear arrays need mdadm too; a dm "dm" device alone needs nothing.
    CHECK(find(tools_wanted(ToolNeeds{"ext4", {}, {"linear"}, {}}), "mdadm") != nullptr);
    CHECK(find(tools_wanted(ToolNeeds{"ext4", {}, {"dm"}, {}}), "lvm") == nullptr);
}

TEST_CASE("conf_words: TOOLS as the shell would read it, the last assignment winning", "[tools]") {
    auto w = conf_words("# TOOLS=\"ignored\"\nTOOLS=\"sgdisk  gdisk\"\nPORT=1022\n", "TOOLS");
    REQUIRE(w);
    CHECK(*w == std::vector<std::string>{"sgdisk", "gdisk"});
    CHECK(*conf_words("TOOLS='a b'\n", "TOOLS") == std::vector<std::string>{"a", "b"});
    CHECK(*conf_words("TOOLS=one # a comment\n", "TOOLS") == std::vector<std::string>{"one"});
    CHECK(*conf_words("TOOLS=\"a\"\nTOOLS=\"\"\n", "TOOLS") == std::vector<std::string>{});
    CHECK(conf_words("PORT=1022\n", "TOOLS")->empty());
    CHECK(conf_words("MYTOOLS=\"x\"\n", "TOOLS")->empty());
    auto dollar = conf_words("TOOLS=\"$EXTRA x\"\n", "TOOLS");
    REQUIRE_FALSE(dollar);
    CHECK(dollar.error().message().find("line 1") != std::string::npos);
    CHECK_FALSE(conf_words("\nTOOLS=\"a b\n", "TOOLS"));
}

TEST_CASE("plan_tools: this machine's e2fsprogs, with their libraries and the loader", "[tools]") {
    // e2fsprogs is among the test dependencies (tools/dev.sh).
    REQUIRE(::access("/usr/sbin/e2fsck", X_OK) == 0);
    char dir[] = "/tmp/offroot-tools-env-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string env = dir;
    auto plan = plan_tools("/", env, tools_wanted(ToolNeeds{"ext4", {"ext4"}, {}, {"no-such-tool-here"}}));
    REQUIRE(plan);
    const ToolCommand* e2fsck = command(*plan, "e2fsck");
    REQUIRE(e2fsck != nullptr);
    CHECK(e2fsck->essential);
    CHECK(e2fsck->wrapper == e2fsck->source);
    CHECK(plan->loader.rfind(std::string(kToolsDir) + "/lib/ld-linux", 0) == 0);
    bool has_libext2fs = false;
    for (const auto& f : plan->files) has_libext2fs = has_libext2fs || f.dest == std::string(kToolsDir) + "/lib/libext2fs.so.2";
    CHECK(has_libext2fs);
    // The 64-bit C library, not one of another class that ld.so.conf.d
    // lists first (/lib32 where libc6-i386 is installed).
    for (const auto& f : plan->files) {
        CHECK(f.source.find("/lib32/") == std::string::npos);
        CHECK(f.dest != std::string(kToolsDir) + "/lib/ld-linux.so.2");
    }
    // Another name of the same program is a wrapper, not a second copy.
    if (const ToolCommand* alias = command(*plan, "fsck.ext4"); alias) {
        CHECK(alias->exe == e2fsck->exe);
        CHECK(tool_wrapper(*alias, *plan).find("--argv0 fsck.ext4 ") != std::string::npos);
    }
    size_t copies = std::count_if(plan->files.begin(), plan->files.end(),
                                  [](const ToolFile& f) { return f.dest == std::string(kToolsDir) + "/exe/e2fsck"; });
    CHECK(copies == 1);
    CHECK(plan->ram_bytes() > 512 * 1024);
    CHECK(plan->missing_essential.empty());
    bool warned = false;
    for (const auto& w : plan->warnings) warned = warned || w.find("no-such-tool-here") != std::string::npos;
    CHECK(warned);
    const std::string wrapper = tool_wrapper(*e2fsck, *plan);
    CHECK(wrapper.rfind("#!/bin/sh\n", 0) == 0);
    CHECK(wrapper.find("DM_DISABLE_UDEV=1 exec " + plan->loader + " --library-path " + kToolsDir + "/lib --argv0 e2fsck " +
                       kToolsDir + "/exe/e2fsck \"$@\"") != std::string::npos);

    // A name the environment has already (kept resident) is not brought.
    REQUIRE(make_dir(env + "/usr", 0755));
    REQUIRE(make_dir(env + "/usr/sbin", 0755));
    REQUIRE(write_file(env + "/usr/sbin/e2fsck", "resident", O_WRONLY | O_CREAT, 0755));
    auto again = plan_tools("/", env, tools_wanted(ToolNeeds{"ext4", {"ext4"}, {}, {}}));
    REQUIRE(again);
    CHECK(command(*again, "e2fsck") == nullptr);
    CHECK(again->missing_essential.empty());
    ::unlink((env + "/usr/sbin/e2fsck").c_str());
    ::rmdir((env + "/usr/sbin").c_str());
    ::rmdir((env + "/usr").c_str());
    ::rmdir(dir);
}

TEST_CASE("plan_tools: an essential tool the root lacks is named", "[tools]") {
    char dir[] = "/tmp/offroot-tools-root-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    auto plan = plan_tools(dir, "/nonexistent-environment", tools_wanted(ToolNeeds{"ext4", {"ext4"}, {}, {}}));
    REQUIRE(plan);
    CHECK(plan->commands.empty());
    CHECK(plan->missing_essential == std::vector<std::string>{"e2fsck"});
    CHECK(plan->ram_bytes() == 0);
    ::rmdir(dir);
}

TEST_CASE("tool_wrapper: sh scripts run with the environment's sh, lvm gets its configuration", "[tools]") {
    ToolPlan plan;
    plan.loader = std::string(kToolsDir) + "/lib/ld-linux-x86-64.so.2";
    plan.lvm_config = true;
    ToolCommand script{"xfs_admin", "/usr/sbin/xfs_admin", "xfs_admin", "/bin/sh", "/usr/sbin/xfs_admin", "xfs", false};
    const std::string s = tool_wrapper(script, plan);
    CHECK(s.find("exec /bin/sh " + std::string(kToolsDir) + "/exe/xfs_admin \"$@\"") != std::string::npos);
    CHECK(s.find("LVM_SYSTEM_DIR=" + std::string(kToolsDir) + "/etc/lvm") != std::string::npos);
    ToolCommand bash{"fsadm", "/usr/sbin/fsadm", "fsadm", "bash", "/usr/sbin/fsadm", "lvm", false};
    CHECK(tool_wrapper(bash, plan).find("--library-path " + std::string(kToolsDir) + "/lib " + kToolsDir + "/exe/bash " +
                                        kToolsDir + "/exe/fsadm \"$@\"") != std::string::npos);
}
