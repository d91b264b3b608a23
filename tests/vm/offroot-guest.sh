# Sourced after lib.sh: a guest with the offroot package installed and armed
# the way an admin arms it (a key in /etc/offroot/authorized_keys, then
# update-initramfs -u), ready to boot.
# offroot_guest NAME SUITE INIT DEB [IMG [GENERATOR]] — prints nothing; the
# arming log is in the VM's directory (arm.log). IMG: another image of
# SUITE/INIT (e.g. a vm_layout_image or vm_dracut_image) instead of the bare
# base image; GENERATOR: the image's initramfs generator (initramfs-tools,
# the default, or dracut), which rebuilds it once the key is there.
offroot_guest() {
    local name=$1 suite=$2 init=$3 deb=$4 img=${5:-} generator=${6:-initramfs-tools} key rebuild
    [ -n "$img" ] || img=$(vm_base_image "$suite" "$init") || return 1
    key=$(vm_key) || return 1
    rebuild=$(vm_initramfs_rebuild "$generator") || return 1
    vm_prepare "$name" "$img" "$deb" || return 1
    vm_image_run "$name" "set -e
        cat /tmp/id_ed25519.pub > /etc/offroot/authorized_keys
        $rebuild 2>&1" "$key.pub" > "$(vm_dir "$name")/arm.log" 2>&1 \
        || { cat "$(vm_dir "$name")/arm.log" >&2; _vm_err "arming offroot in $name failed"; return 1; }
    if grep -q 'offroot: not armed' "$(vm_dir "$name")/arm.log"; then
        cat "$(vm_dir "$name")/arm.log" >&2
        _vm_err "offroot is not armed in $name"
        return 1
    fi
}
