// The enter and return plans: every step that changes the system, what it
// does and how it is undone. `--dry-run` prints them; running them is the
// emergency cycle's (issue 4).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/step.hpp"
#include "switches/root_switch.hpp"
#include "system/init_system.hpp"

namespace offroot {

struct EnterInputs {
    InitInfo init;
    std::string root_source;  // /dev/vda1
    std::string root_fs_type;
    bool from_rootfs = false;  // started in the 1022 session
    std::optional<int> dropbear_pid;
    std::vector<std::string> unmount_order;  // mount points in the real root, children first
    std::vector<std::string> swaps;
    std::vector<std::string> loop_devices;
    RootSwitch root_switch = RootSwitch::move;
};

struct ReturnInputs {
    std::string device;  // what will be mounted as the root
    bool new_device = false;
    bool fsck = false;
    InitInfo init;
    RootSwitch root_switch = RootSwitch::move;
};

std::vector<Step> plan_enter(const EnterInputs& in);
std::vector<Step> plan_return(const ReturnInputs& in);

std::string format_plan_human(const std::string& title, const std::vector<Step>& steps);
std::string format_plan_json(const std::string& command, const std::vector<Step>& steps);

}  // namespace offroot
