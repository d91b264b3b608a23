#include "catch.hpp"
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "base/files.hpp"
#include "kernel/loop_devices.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

namespace {

const LoopDevice* by_name(const std::vector<LoopDevice>& all, const std::string& name) {
    auto it = std::find_if(all.begin(), all.end(), [&](const LoopDevice& d) { return d.name == name; });
    return it == all.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("loop devices from a fake /sys/block", "[loop_devices]") {
    TempDir data;
    const std::string image = data / "disk image.img";
    write_text(image, "x");
    const struct stat image_st = stat_of(image);

    TempDir sys;
    write_text(sys / "loop0/loop/backing_file", image + "\n");
    write_text(sys / "loop0/loop/autoclear", "0\n");
    std::filesystem::create_directories(sys / "loop1/queue");  // unbound
    write_text(sys / "loop2/loop/backing_file", "/var/lib/images/old root.img (deleted)\n");
    write_text(sys / "loop2/loop/autoclear", "1\n");
    write_text(sys / "loop3/loop/autoclear", "0\n");  // detached while we looked
    write_text(sys / "loop10/loop/backing_file", "/nonexistent-offroot/x.img\n");
    write_text(sys / "loop10/loop/autoclear", "0\n");
    write_text(sys / "vda/size", "41943040\n");
    std::filesystem::create_directories(sys / "loopy/loop");

    auto all = scan_loop_devices(sys.path());
    REQUIRE(all.ok());
    REQUIRE(all->size() == 3);

    const LoopDevice& l0 = (*all)[0];
    CHECK(l0.name == "loop0");
    CHECK(l0.device == "/dev/loop0");
    CHECK(l0.backing_file == image);
    CHECK(l0.backing_id == FileId{image_st.st_dev, image_st.st_ino});
    CHECK_FALSE(l0.deleted);
    CHECK_FALSE(l0.autoclear);

    const LoopDevice& l2 = (*all)[1];
    CHECK(l2.name == "loop2");
    CHECK(l2.backing_file == "/var/lib/images/old root.img");
    CHECK(l2.deleted);
    CHECK_FALSE(l2.backing_id.has_value());
    CHECK(l2.autoclear);

    // Sorted by number, not by name.
    const LoopDevice& l10 = (*all)[2];
    CHECK(l10.name == "loop10");
    CHECK(l10.device == "/dev/loop10");
    CHECK(l10.backing_file == "/nonexistent-offroot/x.img");
    CHECK_FALSE(l10.deleted);
    CHECK_FALSE(l10.backing_id.has_value());
}

TEST_CASE("loop devices: /sys/block missing is an error", "[loop_devices]") {
    auto all = scan_loop_devices("/nonexistent-offroot/block");
    REQUIRE_FALSE(all.ok());
    CHECK(all.error().err == ENOENT);
}

TEST_CASE("loop devices: a device we bind, then unlink its backing file", "[loop_devices][live]") {
    if (::geteuid() != 0 || !exists_nofollow("/dev/loop-control")) {
        // A skipped test must not pass in CI, where the suite runs as root.
        const char* ci = std::getenv("CI");
        REQUIRE_FALSE((ci != nullptr && std::string(ci) == "true"));
        WARN("not root or no /dev/loop-control: live loop test skipped");
        return;
    }
    TempDir data;
    const std::string image = data / "backing file.img";
    write_text(image, std::string(1 << 20, '\0'));
    const struct stat image_st = stat_of(image);
    UniqueFd backing(::open(image.c_str(), O_RDWR | O_CLOEXEC));
    REQUIRE(backing.valid());
    UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control.valid()) {
        WARN("cannot open /dev/loop-control: live loop test skipped");
        return;
    }

    // Another process may take the free device between the two calls.
    UniqueFd loop;
    std::string name;
    for (int attempt = 0; attempt < 10 && !loop.valid(); ++attempt) {
        int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
        REQUIRE(n >= 0);
        name = "loop" + std::to_string(n);
        UniqueFd dev;
        for (int wait = 0; wait < 50 && !dev.valid(); ++wait) {
            dev.reset(::open(("/dev/" + name).c_str(), O_RDWR | O_CLOEXEC));
            if (!dev.valid()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        REQUIRE(dev.valid());
        if (::ioctl(dev.get(), LOOP_SET_FD, backing.get()) == 0) loop = std::move(dev);
        else REQUIRE(errno == EBUSY);
    }
    REQUIRE(loop.valid());
    // Autoclear detaches the device when the test closes it, even if a
    // REQUIRE below leaves early.
    struct loop_info64 info {};
    info.lo_flags = LO_FLAGS_AUTOCLEAR;
    REQUIRE(::ioctl(loop.get(), LOOP_SET_STATUS64, &info) == 0);
    backing.reset();

    auto bound = scan_loop_devices();
    REQUIRE(bound.ok());
    const LoopDevice* d = by_name(*bound, name);
    REQUIRE(d != nullptr);
    CHECK(d->device == "/dev/" + name);
    CHECK(d->backing_file == image);
    CHECK(d->backing_id == FileId{image_st.st_dev, image_st.st_ino});
    CHECK(d->autoclear);
    CHECK_FALSE(d->deleted);

    REQUIRE(::unlink(image.c_str()) == 0);
    auto unlinked = scan_loop_devices();
    REQUIRE(unlinked.ok());
    d = by_name(*unlinked, name);
    REQUIRE(d != nullptr);
    CHECK(d->backing_file == image);
    CHECK(d->deleted);
    CHECK_FALSE(d->backing_id.has_value());

    CHECK(::ioctl(loop.get(), LOOP_CLR_FD, 0) == 0);
}
