// pivot_root(2), checked: for ourselves, and on behalf of the processes
// that share another root.
#pragma once

#include <string>

#include "base/result.hpp"

namespace offroot {

// The calling process's own pivot_root(2).
Status pivot_root_here(const std::string& new_root, const std::string& put_old);

// pivot_root(new_root, put_old) made by a child that first takes
// `as_root` (a directory, typically /proc/1/root) as its root and cwd, so
// that the pivot applies to the processes sharing that root, whatever our
// own root is. new_root and put_old are relative to `as_root`.
Status pivot_root_as(const std::string& as_root, const std::string& new_root, const std::string& put_old);

}  // namespace offroot
