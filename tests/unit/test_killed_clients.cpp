// The record of the DHCP clients hold-dhcp-leases killed: what enter's undo
// and recover start again (system/dhcp_clients.hpp).
#include "catch.hpp"

#include <string>
#include <vector>

#include "system/dhcp_clients.hpp"
#include "test_support.hpp"

using namespace offroot;

namespace {

// ifupdown's dhclient, and a dhcpcd with an empty argument and one that
// holds what a line-based record must not take literally.
std::vector<KilledClient> sample() {
    return {
        {DhcpClientKind::dhclient,
         {"ens3"},
         {"/sbin/dhclient", "-4", "-v", "-i", "-pf", "/run/dhclient.ens3.pid", "-lf",
          "/var/lib/dhcp/dhclient.ens3.leases", "-I", "-df", "/var/lib/dhcp/dhclient6.ens3.leases", "ens3"}},
        {DhcpClientKind::dhcpcd, {}, {"dhcpcd", "", "-c", "a b\\c\nd=e", "--"}},
    };
}

}  // namespace

TEST_CASE("the killed clients' record round-trips every argument exactly", "[dhcp-record]") {
    const auto clients = sample();
    const std::string text = serialize_killed_clients(clients);
    CHECK(text ==
          "CLIENT=dhclient\nIFACE=ens3\nARG=/sbin/dhclient\nARG=-4\nARG=-v\nARG=-i\nARG=-pf\n"
          "ARG=/run/dhclient.ens3.pid\nARG=-lf\nARG=/var/lib/dhcp/dhclient.ens3.leases\nARG=-I\nARG=-df\n"
          "ARG=/var/lib/dhcp/dhclient6.ens3.leases\nARG=ens3\n"
          "CLIENT=dhcpcd\nARG=dhcpcd\nARG=\nARG=-c\nARG=a b\\\\c\\nd=e\nARG=--\n");
    auto back = parse_killed_clients(text);
    REQUIRE(back.ok());
    REQUIRE(back->size() == 2);
    for (size_t i = 0; i < clients.size(); ++i) {
        CHECK((*back)[i].kind == clients[i].kind);
        CHECK((*back)[i].interfaces == clients[i].interfaces);
        CHECK((*back)[i].argv == clients[i].argv);
    }
}

TEST_CASE("an empty record: enter killed no client", "[dhcp-record]") {
    CHECK(serialize_killed_clients({}).empty());
    auto none = parse_killed_clients("");
    REQUIRE(none.ok());
    CHECK(none->empty());
}

TEST_CASE("a malformed record is refused, naming the line", "[dhcp-record]") {
    auto message = [](const std::string& text) {
        auto r = parse_killed_clients(text);
        return r.ok() ? std::string("accepted") : r.error().message();
    };
    CHECK(message("ARG=dhclient\n") == "line 1: ARG= before any CLIENT=");
    CHECK(message("CLIENT=dhclient\nIFACE=eth0\n") == "the last client has no ARG= line");
    CHECK(message("CLIENT=dhclient\nCLIENT=dhcpcd\nARG=dhcpcd\n") == "line 2: the client before has no ARG= line");
    CHECK(message("CLIENT=systemd-networkd\nARG=x\n") == "line 1: not a DHCP client enter kills: \"systemd-networkd\"");
    CHECK(message("CLIENT=dhclient\nARG=dhclient\nPID=4\n") == "line 3: unknown key \"PID\"");
    CHECK(message("CLIENT=dhclient\ndhclient eth0\n") == "line 2: no KEY=value: \"dhclient eth0\"");
    CHECK(message("CLIENT=dhclient\nARG=a\\tb\n") ==
          "line 2: a backslash that escapes neither a backslash nor n: \"a\\\\tb\"");
    CHECK(message("CLIENT=dhclient\nARG=trailing\\\n") ==
          "line 2: a backslash that escapes neither a backslash nor n: \"trailing\\\\\"");
}

TEST_CASE("the record keeps each client's interfaces, from its own command line", "[dhcp-record]") {
    const std::vector<DhcpClient> killed = {
        {DhcpClientKind::dhclient, 501, 1, {"/sbin/dhclient", "-4", "-pf", "/run/dhclient.eth0.pid", "eth0"}},
        {DhcpClientKind::dhcpcd, 502, 1, {"dhcpcd", "-q", "eth1", "eth0", "eth1"}},
        {DhcpClientKind::dhcpcd, 503, 1, {"dhcpcd"}},
        {DhcpClientKind::dhclient, 504, 1, {}},  // its cmdline unreadable: nothing to start
    };
    const auto records = killed_client_records(killed, {"lo", "eth0", "eth1"});
    REQUIRE(records.size() == 3);
    CHECK(records[0].interfaces == std::vector<std::string>{"eth0"});
    CHECK(records[1].interfaces == std::vector<std::string>{"eth1", "eth0"});
    CHECK(records[2].interfaces.empty());
    CHECK(records[0].argv == killed[0].argv);
}

TEST_CASE("a killed client is not started twice", "[dhcp-record]") {
    const KilledClient eth0{DhcpClientKind::dhclient, {"eth0"}, {"dhclient", "eth0"}};
    const KilledClient all{DhcpClientKind::dhcpcd, {}, {"dhcpcd"}};
    const std::vector<DhcpClient> none;
    const std::vector<DhcpClient> other_interface = {{DhcpClientKind::dhclient, 9, 1, {"dhclient", "eth1"}}};
    const std::vector<DhcpClient> same_interface = {{DhcpClientKind::dhclient, 9, 1, {"/sbin/dhclient", "-4", "eth0"}}};
    const std::vector<DhcpClient> other_kind = {{DhcpClientKind::dhcpcd, 9, 1, {"dhcpcd", "eth0"}}};
    CHECK_FALSE(runs_already(eth0, none));
    CHECK_FALSE(runs_already(eth0, other_interface));
    CHECK(runs_already(eth0, same_interface));
    CHECK_FALSE(runs_already(eth0, other_kind));
    CHECK_FALSE(runs_already(all, same_interface));
    CHECK(runs_already(all, other_kind));
}

// dhcpcd 10 (Debian 13) as ifupdown starts it, seen in /proc: its
// privilege-separated family, each process's cmdline its own state.
TEST_CASE("dhcpcd's rewritten command line gives back one command that starts it", "[dhcp-record]") {
    const std::string exe = "/usr/sbin/dhcpcd";
    CHECK(dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd: [privileged proxy] ens3 [ip4] [ip6]"}) ==
          std::vector<std::string>{exe, "ens3"});
    CHECK(dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd: ens3 [ip4]"}) ==
          std::vector<std::string>{exe, "-4", "ens3"});
    CHECK(dhcp_client_argv(DhcpClientKind::dhcpcd, "", {"dhcpcd: [master] [ip6]"}) ==
          std::vector<std::string>{"dhcpcd", "-6"});
    // A command line it did not write over is kept exactly, as is any other client's.
    CHECK(dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd", "-4", "ens3"}) ==
          std::vector<std::string>{"dhcpcd", "-4", "ens3"});
    CHECK(dhcp_client_argv(DhcpClientKind::dhclient, exe, {"dhclient: ens3"}) ==
          std::vector<std::string>{"dhclient: ens3"});

    const std::vector<DhcpClient> family = {
        {DhcpClientKind::dhcpcd, 600, 1, dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd: [privileged proxy] ens3 [ip4] [ip6]"})},
        {DhcpClientKind::dhcpcd, 601, 600, dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd: ens3 [ip4] [ip6]"})},
        {DhcpClientKind::dhcpcd, 602, 600, dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd: [network proxy] ens3 [ip4] [ip6]"})},
        {DhcpClientKind::dhcpcd, 603, 601, dhcp_client_argv(DhcpClientKind::dhcpcd, exe, {"dhcpcd: [BPF ARP] ens3 10.0.2.15"})},
    };
    const auto records = killed_client_records(family, {"lo", "ens3"});
    REQUIRE(records.size() == 1);
    CHECK(records[0].argv == std::vector<std::string>{exe, "ens3"});
    CHECK(records[0].interfaces == std::vector<std::string>{"ens3"});
    // Once started again, the family's first is seen as running for ens3.
    CHECK(runs_already(records[0], {family[1]}));
}

// What return reads to know which interfaces' ifupdown state it must not
// carry into the fresh /run: those whose DHCP client enter killed.
TEST_CASE("the interfaces of the killed clients' record, for return", "[dhcp-record]") {
    test::TempDir dir("offroot-killed");
    const std::string record = dir / "dhcp-clients";

    auto none = killed_client_interfaces(record);
    CHECK(none.names.empty());
    CHECK_FALSE(none.all);

    test::write_text(record, serialize_killed_clients({sample()[0]}));
    auto one = killed_client_interfaces(record);
    CHECK(one.names == std::vector<std::string>{"ens3"});
    CHECK_FALSE(one.all);

    // The dhcpcd of the sample names no interface: it served all of them.
    test::write_text(record, serialize_killed_clients(sample()));
    auto every = killed_client_interfaces(record);
    CHECK(every.names == std::vector<std::string>{"ens3"});
    CHECK(every.all);

    // Unreadable as a record: which interfaces a killed client held is not known.
    test::write_text(record, "CLIENT=dhclient\nIFACE=ens3\n");
    auto malformed = killed_client_interfaces(record);
    CHECK(malformed.all);

    test::write_text(record, "");
    auto empty = killed_client_interfaces(record);
    CHECK(empty.names.empty());
    CHECK_FALSE(empty.all);
}
