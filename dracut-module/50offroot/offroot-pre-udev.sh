#!/bin/sh
# offroot, dracut's shell init: the emergency environment and dropbear on
# its port, before udev starts (sourced by init, so it runs a script of its
# own and never exits). The boot goes on whatever happens.
if [ -x /usr/lib/offroot/dracut-start ]; then
    /usr/lib/offroot/dracut-start || :
fi
