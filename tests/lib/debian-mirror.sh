# Sourced (POSIX sh). The Debian mirror the guests and chroots are built
# from: the one this machine's apt uses, so that the repository names no
# mirror and a site's own mirror or proxy is honoured.
#
#   debian_mirror    prints the archive's URI (no trailing slash), or says
#                    what to do and returns 1
#
# OFFROOT_DEBIAN_MIRROR overrides it. Otherwise the main archive is the
# index target of origin and label "Debian" whose release has no
# "-updates"/"-security" suffix (the security archive's label differs).

debian_mirror() {
    if [ -n "${OFFROOT_DEBIAN_MIRROR:-}" ]; then
        printf '%s\n' "${OFFROOT_DEBIAN_MIRROR%/}"
        return 0
    fi
    _dm_uri=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' \
            'Origin: Debian' 'Label: Debian' 'Identifier: Packages' 2>/dev/null \
        | awk '$1 !~ /-/ { print $2; exit }')
    if [ -z "$_dm_uri" ]; then
        echo "debian_mirror: this machine's apt knows no Debian archive: run 'apt-get update'" \
            "(it reads /etc/apt/sources.list and sources.list.d), or set OFFROOT_DEBIAN_MIRROR" >&2
        return 1
    fi
    printf '%s\n' "${_dm_uri%/}"
}
