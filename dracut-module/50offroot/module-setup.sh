#!/bin/bash
# offroot's dracut module: the emergency environment (dropbear on port
# 1022, busybox, offroot, the programs of PROGRAMS) with offroot's keys and
# configuration, as initramfs-tools/hooks/zz-offroot puts it into an
# initramfs-tools image, and what starts it at boot.
#
# dracut's switch_root (systemd's, or util-linux's under dracut's shell
# init) deletes what is left of rootfs, so offroot's run-init cannot keep
# it: the environment is staged in the image (/usr/lib/offroot/env), and
# copied at boot into a tmpfs of its own at /run/offroot/rootfs, which is
# carried into the real root with /run: the tmpfs switch of `offroot arm`
# (runtime/src/switches/root_switch.hpp), filled by the same function
# (hooks/offroot-functions).
#
# Numbered 50: dracut keeps 50-59 for modules from outside its tree.
# Added by /usr/lib/dracut/dracut.conf.d/50-offroot.conf.
# shellcheck disable=SC2154 # moddir, initdir, systemdsystemunitdir: set by dracut

# called by dracut
check() {
    # Only when asked for (the package's dracut.conf.d snippet asks): a
    # missing key or program must not leave the module out, the image then
    # says at boot why offroot is not armed.
    return 255
}

# called by dracut
depends() {
    # Nothing: busybox, dropbear and offroot come in the environment itself,
    # and the module works with and without dracut's systemd module.
    return 0
}

# called by dracut
install() {
    local share=${OFFROOT_SHARE:-/usr/share/offroot}
    local mode=shell reason

    # dracut's systemd initrd (the default where systemd is installed), or
    # its shell init (no systemd module, e.g. a sysvinit host).
    if dracut_module_included "systemd"; then
        mode=systemd
    fi

    # Always: the boot script, so that a boot says why offroot is not
    # armed as well as a build does, and offroot=off is honoured.
    inst_script "$moddir/offroot-start.sh" /usr/lib/offroot/dracut-start
    inst_simple "$share/offroot-functions" /usr/lib/offroot/offroot-functions
    inst_multiple cat chroot cp mkdir mount mountpoint rm setsid umount
    if [[ $mode == systemd ]]; then
        inst_simple "$moddir/offroot-initrd.service" "$systemdsystemunitdir/offroot-initrd.service"
        mkdir -p "$initdir$systemdsystemunitdir/sysinit.target.wants"
        ln_r "$systemdsystemunitdir/offroot-initrd.service" \
            "$systemdsystemunitdir/sysinit.target.wants/offroot-initrd.service"
        # For the real root: offroot-start puts it in /run/systemd/system.
        inst_simple "$moddir/offroot-emergency.service" /usr/lib/offroot/offroot-emergency.service
    else
        inst_hook pre-udev 30 "$moddir/offroot-pre-udev.sh"
    fi

    # The image holds the host keys: root only. dracut writes it with umask
    # 077, but by cp(1) into the existing file, which keeps that file's mode
    # (0644 for an image initramfs-tools made before dracut came): make the
    # file root's before dracut writes into it. $outfile is dracut's own.
    if [[ -n ${outfile:-} && -f $outfile ]]; then
        chmod go-rwx "$outfile" || dwarn "offroot: cannot make $outfile readable by root only"
    fi

    # The environment itself, by a script of its own: offroot-functions is
    # POSIX sh with plain global variables, which must not meet dracut's.
    mkdir -p "$initdir/etc/offroot"
    if ! reason=$(OFFROOT_SHARE="$share" "$moddir/offroot-stage.sh" "$initdir" "$mode" "$moddir"); then
        reason=${reason:-the emergency environment could not be staged (see above)}
        rm -rf "$initdir/usr/lib/offroot/env" "$initdir/etc/offroot/armed"
    fi
    if [[ -n $reason ]]; then
        dwarn "offroot: not armed: $reason; this image boots like the stock one"
        printf '%s\n' "$reason" > "$initdir/etc/offroot/not-armed"
    fi
    return 0
}
