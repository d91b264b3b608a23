// The enter and return plans: every step that changes the system, what it
// does and how it is undone. One table for both uses: `--dry-run` prints
// it, and enter and return walk it as they run (PlanRun), so a step the
// code runs is a step the plan shows, in the same order, by the same name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/step.hpp"
#include "switches/root_switch.hpp"
#include "system/holders.hpp"
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

// From the preflight's report, as both `enter --dry-run` and enter use it.
EnterInputs enter_inputs(const CheckReport& report);
// For the return onto `device`.
ReturnInputs return_inputs(const SystemStatus& status, const std::string& device, bool fsck);

std::vector<Step> plan_enter(const EnterInputs& in);
std::vector<Step> plan_return(const ReturnInputs& in);

// A plan as it runs: the transition announces each step as it starts it,
// by name; the name must be the plan's next one, or the code and its plan
// have drifted apart and the transition stops (and undoes itself) there.
// Each step is logged with its number and the plan's action text, and
// recorded for `offroot status` (system/transition_record.hpp).
class PlanRun {
public:
    PlanRun(std::string transition, std::vector<Step> steps);
    // STARTED_AT: when the step's work began, if before begin() (enter's
    // preflight is the check that builds the plan); else now.
    Status begin(const std::string& name, double started_at = 0);
    // Logs the current step's time and returns it, in seconds.
    double done();
    // Every step of the plan has begun.
    Status finish() const;
    const std::vector<Step>& steps() const { return steps_; }

private:
    std::string transition_;
    std::vector<Step> steps_;
    size_t next_ = 0;
    double started_ = 0;
};

std::string format_plan_human(const std::string& title, const std::vector<Step>& steps);
std::string format_plan_json(const std::string& command, const std::vector<Step>& steps);

}  // namespace offroot
