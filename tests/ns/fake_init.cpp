// A stand-in for sysvinit's /sbin/init in the namespace scenarios: PID 1
// whose binary is named "init" (so offroot recognises a sysvinit-style
// init), running /sbin/init.sh with its own arguments, reaping every orphan,
// and exiting with the script's status so the test harness sees the result.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    pid_t script = ::fork();
    if (script < 0) {
        std::perror("fake init: fork");
        return 1;
    }
    if (script == 0) {
        std::vector<char*> args{const_cast<char*>("/bin/sh"), const_cast<char*>("/sbin/init.sh")};
        for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
        args.push_back(nullptr);
        ::execv("/bin/sh", args.data());
        std::perror("fake init: execv /bin/sh");
        ::_exit(127);
    }
    for (;;) {
        int status = 0;
        pid_t pid = ::wait(&status);
        if (pid < 0) return 1;
        if (pid == script) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
}
