// libstdc++'s default terminate handler prints the uncaught exception's
// demangled type: it links the whole C++ demangler (~60 KiB) into every
// static binary, and offroot stays in RAM for the whole uptime. Ours says
// the same thing in fewer words.
#include <unistd.h>

#include <cstdlib>
#include <exception>

namespace __gnu_cxx {

void __verbose_terminate_handler() {
    static const char msg[] = "offroot: terminate called (uncaught exception or a broken invariant)\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    std::abort();
}

}  // namespace __gnu_cxx
