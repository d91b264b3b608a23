// run-init -d: drop capabilities before init, as klibc's and busybox's
// run-init do (initramfs-tools passes drop_capabilities= from the command
// line).
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace offroot {

// "cap_sys_module,sys_rawio,17" -> capability numbers; an unknown name is an
// error naming it.
Result<std::vector<int>> parse_capability_list(const std::string& list);

// Removes each from the bounding set and the inheritable set, so that
// neither init nor anything it execs can regain them.
Status drop_capabilities(const std::vector<int>& caps);

}  // namespace offroot
