// Drives the tools on demand of enter and return (system/offline_tools)
// inside a test's fake emergency environment, where "/" is the environment
// and the real root is mounted somewhere below it.
//   tools_driver bring REAL_ROOT ROOT_FS_TYPE [STACK_KIND...]
//   tools_driver remove
// Prints what it brought and every warning; exits 1 on an error.
#include <cstdio>
#include <string>

#include "system/offline_tools.hpp"

using namespace offroot;

int main(int argc, char** argv) {
    const std::string what = argc > 1 ? argv[1] : "";
    if (what == "remove") {
        auto s = remove_tools();
        if (!s) std::fprintf(stderr, "tools_driver: %s\n", s.error().message().c_str());
        return s ? 0 : 1;
    }
    if (what != "bring" || argc < 4) {
        std::fprintf(stderr, "usage: tools_driver bring REAL_ROOT ROOT_FS_TYPE [STACK_KIND...] | remove\n");
        return 2;
    }
    ToolNeeds needs;
    needs.root_fs_type = argv[3];
    needs.fs_types.insert(argv[3]);
    for (int i = 4; i < argc; ++i) needs.stack_kinds.insert(argv[i]);
    auto plan = plan_tools(argv[2], "/", tools_wanted(needs));
    if (!plan) {
        std::fprintf(stderr, "tools_driver: %s\n", plan.error().message().c_str());
        return 1;
    }
    std::printf("planned %zu commands, %zu files, %llu KiB\n", plan->commands.size(), plan->files.size(),
                static_cast<unsigned long long>(plan->ram_bytes() / 1024));
    auto brought = bring_tools(*plan, argv[2]);
    if (!brought) {
        std::fprintf(stderr, "tools_driver: %s\n", brought.error().message().c_str());
        return 1;
    }
    for (const auto& c : plan->commands) std::printf("command %s %s\n", c.name.c_str(), c.wrapper.c_str());
    for (const auto& w : *brought) std::printf("warning %s\n", w.c_str());
    return 0;
}
