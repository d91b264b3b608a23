#include "kernel/device_mapper.hpp"

#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/files.hpp"
#include "kernel/block_stack.hpp"
#include "base/text.hpp"

namespace offroot {

namespace {

constexpr const char* kControl = "/dev/mapper/control";

// struct dm_ioctl and whatever follows it: the kernel writes its answer
// into the same buffer, up to data_size.
struct DmBuffer {
    alignas(8) unsigned char bytes[16384];
    dm_ioctl* io() { return reinterpret_cast<dm_ioctl*>(bytes); }
};

void prepare(DmBuffer& buf, const std::string& name, uint32_t flags) {
    std::memset(buf.bytes, 0, sizeof buf.bytes);
    dm_ioctl* io = buf.io();
    io->version[0] = DM_VERSION_MAJOR;
    io->version[1] = 0;
    io->version[2] = 0;
    io->data_size = sizeof buf.bytes;
    io->data_start = sizeof(dm_ioctl);
    io->flags = flags;
    std::strncpy(io->name, name.c_str(), sizeof io->name - 1);
}

Status dm_call(unsigned long request, const char* request_name, DmBuffer& buf, const std::string& name) {
    if (name.empty() || name.size() >= DM_NAME_LEN) return plain_error("device-mapper name " + quoted(name) + " is not valid");
    auto control = open_path(kControl, O_RDWR | O_CLOEXEC);
    if (!control) return control.error().context("device-mapper");
    if (::ioctl(control->get(), request, buf.bytes) != 0)
        return sys_error("ioctl(" + std::string(kControl) + ", " + request_name + ", " + quoted(name) + ")");
    return {};
}

}  // namespace

Result<DmDeviceState> dm_device_state(const std::string& name) {
    DmBuffer buf;
    prepare(buf, name, 0);
    if (auto s = dm_call(DM_DEV_STATUS, "DM_DEV_STATUS", buf, name); !s) return s.error();
    const dm_ioctl* io = buf.io();
    return DmDeviceState{name, (io->flags & DM_DEFERRED_REMOVE) != 0, io->open_count};
}

Result<std::vector<DmDeviceState>> list_dm_devices(const std::string& sys_block) {
    auto stack = read_block_stack(sys_block);
    if (!stack) return stack.error();
    std::vector<DmDeviceState> out;
    for (const auto& d : *stack) {
        if (d.kernel_name.rfind("dm-", 0) != 0) continue;  // md
        auto state = dm_device_state(d.name);
        if (!state) {
            if (state.error().err == ENXIO) continue;  // removed while we looked
            return state.error();
        }
        out.push_back(*state);
    }
    return out;
}

Status cancel_deferred_removal(const std::string& name) {
    static constexpr char kMessage[] = "@cancel_deferred_remove";
    DmBuffer buf;
    prepare(buf, name, 0);
    auto* msg = reinterpret_cast<dm_target_msg*>(buf.bytes + sizeof(dm_ioctl));
    msg->sector = 0;
    std::memcpy(msg->message, kMessage, sizeof kMessage);
    return dm_call(DM_TARGET_MSG, "DM_TARGET_MSG @cancel_deferred_remove", buf, name);
}

Status defer_removal(const std::string& name) {
    auto state = dm_device_state(name);
    if (!state) return state.error();
    if (state->open_count == 0)
        return plain_error("device-mapper device " + quoted(name) + " is not open: marking it for deferred removal would remove it now",
                           "dmsetup remove " + name + " if it should go");
    DmBuffer buf;
    prepare(buf, name, DM_DEFERRED_REMOVE);
    return dm_call(DM_DEV_REMOVE, "DM_DEV_REMOVE DM_DEFERRED_REMOVE", buf, name);
}

std::string serialize_dm_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += n + "\n";
    return out;
}

std::vector<std::string> parse_dm_names(const std::string& text) {
    std::vector<std::string> out;
    for (std::string_view line : split_lines(text))
        if (!line.empty() && line.size() < DM_NAME_LEN) out.emplace_back(line);
    return out;
}

}  // namespace offroot
