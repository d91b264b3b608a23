#include "catch.hpp"
#include <sys/mount.h>

#include <string>

#include "kernel/mount.hpp"

using namespace offroot;

TEST_CASE("mount flags: none is \"0\"", "[mount]") { CHECK(mount_flags_to_string(0) == "0"); }

TEST_CASE("mount flags: the flags offroot uses, by name", "[mount]") {
    CHECK(mount_flags_to_string(MS_MOVE) == "MS_MOVE");
    CHECK(mount_flags_to_string(MS_BIND) == "MS_BIND");
    CHECK(mount_flags_to_string(MS_BIND | MS_REC) == "MS_BIND|MS_REC");
    CHECK(mount_flags_to_string(MS_PRIVATE | MS_REC) == "MS_REC|MS_PRIVATE");
    CHECK(mount_flags_to_string(MS_REMOUNT | MS_BIND | MS_RDONLY) == "MS_RDONLY|MS_REMOUNT|MS_BIND");
}

TEST_CASE("mount flags: every named flag", "[mount]") {
    CHECK(mount_flags_to_string(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_REMOUNT | MS_BIND | MS_MOVE |
                                MS_REC | MS_PRIVATE | MS_SLAVE | MS_SHARED | MS_UNBINDABLE | MS_RELATIME) ==
          "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND|MS_MOVE|MS_REC|MS_PRIVATE|MS_SLAVE|"
          "MS_SHARED|MS_UNBINDABLE|MS_RELATIME");
}

TEST_CASE("mount flags: bits without a name are shown in hex after the names", "[mount]") {
    CHECK(mount_flags_to_string(MS_SYNCHRONOUS) == "0x10");
    CHECK(mount_flags_to_string(MS_RDONLY | MS_SYNCHRONOUS | MS_NOATIME) == "MS_RDONLY|0x410");
    CHECK(mount_flags_to_string(MS_BIND | (1UL << 40)) == "MS_BIND|0x10000000000");
}
