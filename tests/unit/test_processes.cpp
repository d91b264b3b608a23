#include "catch.hpp"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>

#include "base/files.hpp"
#include "kernel/processes.hpp"
#include "test_support.hpp"

using namespace offroot;
using namespace offroot::test;

namespace {

// glibc defines O_LARGEFILE as 0 on 64-bit targets, but the kernel still
// reports its bit in fdinfo.
constexpr int kKernelLargefile = 0100000;

std::string sample(const std::string& name) { return sample_text("proc/" + name); }

const OpenFile* find_fd(const Process& p, int fd) {
    auto it = std::find_if(p.files.begin(), p.files.end(), [&](const OpenFile& f) { return f.fd == fd; });
    return it == p.files.end() ? nullptr : &*it;
}

const Process* find_pid(const std::vector<Process>& ps, pid_t pid) {
    auto it = std::find_if(ps.begin(), ps.end(), [&](const Process& p) { return p.stat.pid == pid; });
    return it == ps.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("stat of a process whose comm holds ') ' and a fake state", "[processes]") {
    // Captured from a copy of sleep named "a) R 9 (b) c": a parser that stops
    // at the first ')' reads state 'R' and ppid 9.
    auto st = parse_proc_stat(sample("stat_tricky_comm"));
    REQUIRE(st.ok());
    CHECK(st->pid == 12462);
    CHECK(st->comm == "a) R 9 (b) c");
    CHECK(st->state == 'S');
    CHECK(st->ppid == 12461);
    CHECK(st->flags == 4194304);
    CHECK_FALSE(is_kernel_thread(*st));
}

TEST_CASE("stat of kthreadd and of a kworker", "[processes]") {
    auto kthreadd = parse_proc_stat(sample("stat_kthreadd"));
    REQUIRE(kthreadd.ok());
    CHECK(kthreadd->pid == 2);
    CHECK(kthreadd->comm == "kthreadd");
    CHECK(kthreadd->state == 'S');
    CHECK(kthreadd->ppid == 0);
    CHECK(kthreadd->flags == 2129984);
    CHECK(is_kernel_thread(*kthreadd));

    // Workqueue workers show a comm longer than TASK_COMM_LEN.
    auto kworker = parse_proc_stat(sample("stat_kworker"));
    REQUIRE(kworker.ok());
    CHECK(kworker->pid == 10);
    CHECK(kworker->comm == "kworker/0:0H-events_highpri");
    CHECK(kworker->state == 'I');
    CHECK(kworker->ppid == 2);
    CHECK(kworker->flags == 69238880);
    CHECK(is_kernel_thread(*kworker));
}

TEST_CASE("kernel thread detection by flag and by pid 2", "[processes]") {
    ProcessStat st;
    st.pid = 1;
    st.flags = 0x00400100;
    CHECK_FALSE(is_kernel_thread(st));
    st.flags |= 0x00200000;
    CHECK(is_kernel_thread(st));
    st.pid = 2;
    st.flags = 0;
    CHECK(is_kernel_thread(st));
}

TEST_CASE("malformed stat is an error", "[processes]") {
    CHECK_FALSE(parse_proc_stat("").ok());
    CHECK_FALSE(parse_proc_stat("123 (foo S 1 2 3 4 5 6").ok());
    CHECK_FALSE(parse_proc_stat("123 (foo) S").ok());
    CHECK_FALSE(parse_proc_stat("x (foo) S 1 1 1 0 -1 4194304 0").ok());
    CHECK_FALSE(parse_proc_stat("123 (foo) S 1 1 1 0 -1 abc 0").ok());
    auto ok = parse_proc_stat("123 () Z 1 1 1 0 -1 4194316 0\n");
    REQUIRE(ok.ok());
    CHECK(ok->comm.empty());
    CHECK(ok->state == 'Z');
    CHECK(ok->flags == 4194316);
}

TEST_CASE("fdinfo flags in octal", "[processes]") {
    // Read end of a pipe: pipes do not get the forced O_LARGEFILE.
    auto rdonly = parse_fdinfo_flags(sample("fdinfo_rdonly"));
    REQUIRE(rdonly.ok());
    CHECK(*rdonly == 0);

    auto append = parse_fdinfo_flags(sample("fdinfo_wronly_append"));
    REQUIRE(append.ok());
    CHECK(*append == 0102001);
    CHECK(*append == (O_WRONLY | O_APPEND | kKernelLargefile));

    auto rdwr = parse_fdinfo_flags(sample("fdinfo_rdwr_largefile_cloexec"));
    REQUIRE(rdwr.ok());
    CHECK(*rdwr == 02100002);
    CHECK(*rdwr == (O_RDWR | O_CLOEXEC | kKernelLargefile));

    OpenFile f;
    f.flags = *rdonly;
    CHECK_FALSE(f.open_for_writing());
    f.flags = *append;
    CHECK(f.open_for_writing());
    f.flags = *rdwr;
    CHECK(f.open_for_writing());
    f.flags = kKernelLargefile | O_CLOEXEC;
    CHECK_FALSE(f.open_for_writing());
}

TEST_CASE("fdinfo without usable flags is an error", "[processes]") {
    CHECK_FALSE(parse_fdinfo_flags("pos:\t0\nmnt_id:\t16\n").ok());
    CHECK_FALSE(parse_fdinfo_flags("pos:\t0\nflags:\t0109\n").ok());
    CHECK_FALSE(parse_fdinfo_flags("flags:\t\n").ok());
}

TEST_CASE("maps: files only, deduplicated, deleted marked", "[processes]") {
    auto maps = parse_proc_maps(sample("maps"));
    REQUIRE(maps.size() == 8);
    const dev_t vda = makedev(0xfe, 0);

    CHECK(maps[0].path == "/root/.pyenv/versions/3.11.7/bin/python3.11");
    CHECK(maps[0].dev == vda);
    CHECK(maps[0].ino == 18624);
    CHECK_FALSE(maps[0].deleted);

    // MAP_SHARED anonymous memory is a shmem file: a name, not on any disk.
    CHECK(maps[1].path == "/dev/zero");
    CHECK(maps[1].dev == makedev(0, 1));
    CHECK(maps[1].ino == 1024);
    CHECK(maps[1].deleted);

    CHECK(maps[2].path ==
          "/root/.pyenv/versions/3.11.7/lib/python3.11/lib-dynload/fcntl.cpython-311-x86_64-linux-gnu.so");
    CHECK(maps[2].ino == 21673);
    CHECK(maps[3].path == "/usr/lib/x86_64-linux-gnu/libc.so.6");
    CHECK(maps[3].ino == 332835);
    CHECK(maps[4].path == "/usr/lib/locale/C.utf8/LC_CTYPE");
    CHECK(maps[4].ino == 320475);

    CHECK(maps[5].path == "/tmp/offroot sample/gone.bin");
    CHECK(maps[5].dev == vda);
    CHECK(maps[5].ino == 10953600);
    CHECK(maps[5].deleted);

    CHECK(maps[6].path == "/tmp/offroot sample/lib with spaces.so");
    CHECK(maps[6].dev == vda);
    CHECK(maps[6].ino == 10953599);
    CHECK_FALSE(maps[6].deleted);

    CHECK(maps[7].path == "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    CHECK(maps[7].ino == 332383);
}

TEST_CASE("maps: device numbers, escaped newline, same path on two devices", "[processes]") {
    auto maps = parse_proc_maps(
        "7f00-7f01 r--p 00000000 08:11 42                         /srv/a file \n"
        "7f01-7f02 r--p 00001000 08:11 42                         /srv/a file \n"
        "7f02-7f03 r--p 00000000 103:105 42                       /srv/a file \n"
        "7f03-7f04 r--p 00000000 08:11 43                         /srv/line\\012break\n"
        "7f04-7f05 rw-p 00000000 00:00 0                          [anon:glibc malloc]\n"
        "7f05-7f06 rw-p 00000000 00:00 0 \n"
        "garbage\n");
    REQUIRE(maps.size() == 3);
    // Trailing blanks belong to the name.
    CHECK(maps[0].path == "/srv/a file ");
    CHECK(maps[0].dev == makedev(8, 17));
    CHECK(maps[1].path == "/srv/a file ");
    CHECK(maps[1].dev == makedev(0x103, 0x105));
    CHECK(maps[2].path == "/srv/line\nbreak");
    CHECK(maps[2].ino == 43);
}

TEST_CASE("NUL separated cmdline", "[processes]") {
    using V = std::vector<std::string>;
    using namespace std::string_literals;
    CHECK(parse_nul_separated(""s) == V{});
    CHECK(parse_nul_separated("/sbin/init\0splash\0"s) == V{"/sbin/init", "splash"});
    CHECK(parse_nul_separated("a\0b c\0\0d\0"s) == V{"a", "b c", "", "d"});
    CHECK(parse_nul_separated("sshd: root@pts/0"s) == V{"sshd: root@pts/0"});
}

TEST_CASE("socket links", "[processes]") {
    CHECK(parse_socket_link("socket:[22180]") == std::optional<ino_t>(22180));
    CHECK(parse_socket_link("socket:[]") == std::nullopt);
    CHECK(parse_socket_link("socket:[12x]") == std::nullopt);
    CHECK(parse_socket_link("pipe:[22180]") == std::nullopt);
    CHECK(parse_socket_link("/run/socket:[1]") == std::nullopt);
}

TEST_CASE("read_process on ourselves sees an unlinked file held for writing", "[processes]") {
    TempDir dir;
    const std::string path = dir / "held file";
    UniqueFd wfd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    REQUIRE(wfd.valid());
    const std::string page(4096, 'x');
    REQUIRE(::write(wfd.get(), page.data(), page.size()) == 4096);
    UniqueFd rfd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(rfd.valid());
    void* map = ::mmap(nullptr, page.size(), PROT_READ, MAP_SHARED, rfd.get(), 0);
    REQUIRE(map != MAP_FAILED);
    struct stat st {};
    REQUIRE(::fstat(wfd.get(), &st) == 0);
    REQUIRE(::unlink(path.c_str()) == 0);

    auto p = read_process(::getpid());
    ::munmap(map, page.size());
    REQUIRE(p.ok());

    CHECK(p->stat.pid == ::getpid());
    CHECK(p->stat.ppid == ::getppid());
    CHECK(p->stat.state == 'R');
    CHECK(p->stat.comm == std::string("offroot_unit_tests").substr(0, 15));
    CHECK_FALSE(p->kernel_thread);
    CHECK(p->root == "/");
    const struct stat root_st = stat_of("/");
    CHECK(p->root_id == FileId{root_st.st_dev, root_st.st_ino});
    CHECK(p->cwd == std::filesystem::current_path().string());
    auto exe = read_link("/proc/self/exe");
    REQUIRE(exe.ok());
    CHECK(p->exe == *exe);
    REQUIRE(p->exe_id.has_value());
    REQUIRE_FALSE(p->cmdline.empty());
    CHECK(p->cmdline[0].ends_with("offroot_unit_tests"));

    const OpenFile* w = find_fd(*p, wfd.get());
    REQUIRE(w != nullptr);
    CHECK(w->path == path);
    CHECK(w->deleted);
    CHECK(w->open_for_writing());
    CHECK((w->flags & O_ACCMODE) == O_WRONLY);
    CHECK((w->flags & O_CLOEXEC) != 0);
    CHECK(w->id == FileId{st.st_dev, st.st_ino});
    CHECK(S_ISREG(w->mode));
    CHECK(w->nlink == 0);
    CHECK_FALSE(w->socket_inode.has_value());

    const OpenFile* r = find_fd(*p, rfd.get());
    REQUIRE(r != nullptr);
    CHECK(r->path == path);
    CHECK(r->deleted);
    CHECK_FALSE(r->open_for_writing());

    auto m = std::find_if(p->maps.begin(), p->maps.end(),
                          [&](const MappedFile& f) { return f.ino == st.st_ino; });
    REQUIRE(m != p->maps.end());
    CHECK(m->path == path);
    CHECK(m->deleted);
    CHECK(m->dev == st.st_dev);
}

TEST_CASE("read_process sees socket fds", "[processes]") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    UniqueFd a(sv[0]);
    UniqueFd b(sv[1]);
    struct stat st {};
    REQUIRE(::fstat(a.get(), &st) == 0);

    auto p = read_process(::getpid());
    REQUIRE(p.ok());
    const OpenFile* f = find_fd(*p, a.get());
    REQUIRE(f != nullptr);
    CHECK(f->path == "socket:[" + std::to_string(st.st_ino) + "]");
    CHECK(f->socket_inode == std::optional<ino_t>(st.st_ino));
    CHECK(S_ISSOCK(f->mode));
    CHECK_FALSE(f->deleted);
    CHECK((f->flags & O_ACCMODE) == O_RDWR);
}

TEST_CASE("scan_processes finds us and marks kthreadd", "[processes]") {
    auto all = scan_processes();
    REQUIRE(all.ok());
    CHECK(std::is_sorted(all->begin(), all->end(),
                         [](const Process& a, const Process& b) { return a.stat.pid < b.stat.pid; }));

    const Process* self = find_pid(*all, ::getpid());
    REQUIRE(self != nullptr);
    CHECK_FALSE(self->kernel_thread);
    CHECK_FALSE(self->files.empty());
    CHECK_FALSE(self->maps.empty());

    if (exists_nofollow("/proc/2")) {
        const Process* kthreadd = find_pid(*all, 2);
        REQUIRE(kthreadd != nullptr);
        CHECK(kthreadd->kernel_thread);
        CHECK(kthreadd->stat.comm == "kthreadd");
        CHECK(kthreadd->exe.empty());
        CHECK(kthreadd->files.empty());
        CHECK(kthreadd->maps.empty());
    } else {
        WARN("no /proc/2 (pid namespace?): kthreadd not checked");
    }

    ScanOptions light;
    light.with_files = false;
    auto cheap = scan_processes(light);
    REQUIRE(cheap.ok());
    const Process* self2 = find_pid(*cheap, ::getpid());
    REQUIRE(self2 != nullptr);
    CHECK(self2->files.empty());
    CHECK(self2->maps.empty());
    CHECK_FALSE(self2->exe.empty());
}

TEST_CASE("scan_processes on a fake /proc: vanished entries are skipped", "[processes]") {
    TempDir proc;
    TempDir data;
    const std::string held = data / "held";
    write_text(held, "x");
    const struct stat held_st = stat_of(held);

    // A user process: its fd 3 is alive, fd 4 was closed between listing
    // and reading (a dangling link), its cwd is unreadable (missing).
    write_text(proc / "100/stat", "100 (daemon) S 1 100 100 0 -1 4194560 0 0\n");
    write_text(proc / "100/cmdline", std::string("/usr/sbin/daemon\0-f\0", 20));
    make_symlink("/", proc / "100/root");
    make_symlink(held, proc / "100/exe");
    make_symlink(held, proc / "100/fd/3");
    write_text(proc / "100/fdinfo/3", "pos:\t0\nflags:\t0100001\nmnt_id:\t27\n");
    make_symlink(data / "closed", proc / "100/fd/4");
    write_text(proc / "100/maps",
        "7f00-7f01 r--p 00000000 fe:00 77                         /usr/lib/libc.so.6\n");
    // Exited after the listing: the directory is there, its stat is not.
    std::filesystem::create_directories(proc / "101");
    // A kernel thread: nothing beyond stat, root and cwd is read.
    write_text(proc / "102/stat", "102 (kworker/1:2) I 2 0 0 0 -1 69238880 0 0\n");
    make_symlink(held, proc / "102/fd/0");
    make_symlink(held, proc / "102/exe");
    make_symlink("100", proc / "self");
    std::filesystem::create_directories(proc / "sys");

    ScanOptions options;
    options.proc = proc.path();
    auto all = scan_processes(options);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);

    const Process& daemon = (*all)[0];
    CHECK(daemon.stat.pid == 100);
    CHECK(daemon.stat.comm == "daemon");
    CHECK_FALSE(daemon.kernel_thread);
    CHECK(daemon.cmdline == std::vector<std::string>{"/usr/sbin/daemon", "-f"});
    CHECK(daemon.root == "/");
    CHECK(daemon.cwd.empty());
    CHECK_FALSE(daemon.cwd_id.has_value());
    CHECK(daemon.exe == held);
    CHECK(daemon.exe_id == FileId{held_st.st_dev, held_st.st_ino});
    REQUIRE(daemon.files.size() == 1);
    CHECK(daemon.files[0].fd == 3);
    CHECK(daemon.files[0].path == held);
    CHECK(daemon.files[0].flags == (O_WRONLY | kKernelLargefile));
    CHECK(daemon.files[0].id == FileId{held_st.st_dev, held_st.st_ino});
    CHECK(daemon.files[0].nlink == 1);
    CHECK_FALSE(daemon.files[0].deleted);
    REQUIRE(daemon.maps.size() == 1);
    CHECK(daemon.maps[0].path == "/usr/lib/libc.so.6");

    const Process& kworker = (*all)[1];
    CHECK(kworker.stat.pid == 102);
    CHECK(kworker.kernel_thread);
    CHECK(kworker.exe.empty());
    CHECK(kworker.files.empty());
}

TEST_CASE("scan_processes fails when /proc cannot be listed", "[processes]") {
    ScanOptions options;
    options.proc = "/nonexistent-offroot-proc";
    auto all = scan_processes(options);
    REQUIRE_FALSE(all.ok());
    CHECK(all.error().err == ENOENT);
    CHECK(all.error().what.find("/nonexistent-offroot-proc") != std::string::npos);
}

TEST_CASE("read_process reports a corrupt stat with its path", "[processes]") {
    TempDir proc;
    write_text(proc / "7/stat", "garbage\n");
    ScanOptions options;
    options.proc = proc.path();
    auto p = read_process(7, options);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().what.find(proc / "7/stat") != std::string::npos);

    auto gone = read_process(8, options);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error().err == ENOENT);
}
