#include "kernel/pivot_root.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd.hpp"
#include "base/text.hpp"

namespace offroot {

Status pivot_root_here(const std::string& new_root, const std::string& put_old) {
    if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) != 0)
        return sys_error("pivot_root(" + quoted(new_root) + ", " + quoted(put_old) + ")");
    return {};
}

Status pivot_root_as(const std::string& as_root, const std::string& new_root, const std::string& put_old) {
    // The child reports which call failed and its errno through a pipe: a
    // message from a forked child of a static binary is best kept simple.
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("pipe2()");
    UniqueFd read_end(report[0]), write_end(report[1]);
    struct Failure {
        int step;  // 1..4, the calls below
        int err;
    } failure{0, 0};
    pid_t child = ::fork();
    if (child < 0) return sys_error("fork()");
    if (child == 0) {
        auto fail = [&](int step) {
            failure = {step, errno};
            (void)!::write(write_end.get(), &failure, sizeof failure);
            ::_exit(1);
        };
        if (::chroot(as_root.c_str()) != 0) fail(1);
        if (::chdir("/") != 0) fail(2);
        if (::chdir(new_root.c_str()) != 0) fail(3);
        if (::syscall(SYS_pivot_root, ".", put_old.c_str()) != 0) fail(4);
        ::_exit(0);
    }
    write_end.reset();
    ssize_t got = ::read(read_end.get(), &failure, sizeof failure);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0) {
        if (errno != EINTR) return sys_error("waitpid(" + std::to_string(child) + ")");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    const std::string calls[] = {"", "chroot(" + quoted(as_root) + ")", "chdir(\"/\")",
                                 "chdir(" + quoted(new_root) + ") in " + quoted(as_root),
                                 "pivot_root(" + quoted(new_root) + ", " + quoted(put_old) + ") in " + quoted(as_root)};
    if (got == static_cast<ssize_t>(sizeof failure) && failure.step >= 1 && failure.step <= 4)
        return Error{calls[failure.step], failure.err, ""};
    return plain_error("pivot_root(" + quoted(new_root) + ", " + quoted(put_old) + ") in " + quoted(as_root) +
                       ": the helper process died");
}

}  // namespace offroot
