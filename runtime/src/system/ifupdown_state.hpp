// ifupdown's record of the interfaces it brought up, across return.
// ifupdown keeps it in /run/network (ifstate: one IFACE=LOGICAL line per
// interface up; ifstate.IFACE files in newer versions); return gives the
// root a fresh /run, and the init's `ifup -a` then configures again an
// interface that offroot kept up all through DETACHED: a static address is
// refused ("Error: ipv4: Address already assigned", "ifup: failed to bring
// up ens3", seen on trixie/sysvinit), ifupdown takes the interface for
// down, and its ifdown at shutdown, its if-up.d hooks and `ifquery --state`
// miss it. An interface whose DHCP client enter killed is left out of the
// record carried: ifup has to run for it, to start the client that renews
// the lease.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace offroot {

// The lines of an ifstate file ("IFACE=LOGICAL") whose IFACE is not one of
// `dhcp_interfaces`; blank lines go, other lines stay as they are.
std::string ifstate_without(std::string_view ifstate, const std::vector<std::string>& dhcp_interfaces);

// Copies <from_run>/network's ifstate and ifstate.IFACE files into
// <to_run>/network, leaving out the interfaces of `dhcp_interfaces`, and
// not its lock and temporary files (dot files: ifupdown makes them). With
// `all_dhcp` (a killed client served every interface) nothing is carried.
// No /run/network (no ifupdown) is not an error. Says in `carried` which
// interfaces it carried.
Status carry_ifupdown_state(const std::string& from_run, const std::string& to_run,
                            const std::vector<std::string>& dhcp_interfaces, bool all_dhcp,
                            std::vector<std::string>& carried);

}  // namespace offroot
