#!/usr/bin/env bash
# The package's life on copies of this machine, and the boot: run by Scripts/boot-test as root,
# in a mount namespace of its own (unshare -m), so that nothing it mounts or installs reaches
# the machine.
#
#   Tests/Boot/host.sh REPO DEB RESULTS
#
# A "root" is a copy-on-write copy of this machine's / : an overlay whose upper layer is a
# tmpfs, gone with the namespace. Debian's ipvsadm (the oracle, installed by Scripts/setup) is
# installed in it, as on a director that switches packages. dpkg runs chrooted in it, in a
# network namespace of its own (maintainer scripts cannot touch this machine's IPVS table),
# with a policy-rc.d that forbids starting or stopping services, as usual in a chroot.
#
# 1. Life cycle, each on a fresh root: dpkg -i over Debian's ipvsadm, again (upgrade), remove,
#    purge; on a machine without Debian's ipvsadm; replacing Debian's ipvsadm that loaded the
#    rules at boot (AUTO="true").
# 2. The boot: one more root with the package installed over Debian's, /etc/ipvsadm.rules and
#    the unit enabled (`systemctl enable`, as an administrator would), booted by Scripts/vm with
#    systemd as init; Tests/Boot/run.sh runs in it as the unit ipvsadm-boot-test.service after
#    multi-user.target and powers the guest off. To keep the boot short and the same on every
#    machine, the copy starts none of this machine's own services (its enabled units and init
#    scripts are disabled in the copy), and units and generators that neither ipvsadm.service
#    nor the test needs are masked (udev, logind, D-Bus, gettys, utmp, ...).
# Prints PASS/FAIL lines and ends with "N passed, N failed".
set -uo pipefail

repo=${1:?usage: host.sh REPO DEB RESULTS} deb=${2:?} results=${3:?}
fixtures=$repo/Tests/Service
state=$(mktemp -d /tmp/ipvsadm-boot-test.XXXXXX)
mount -t tmpfs -o mode=0755 boot-test "$state" || { echo "FAIL mount a tmpfs (root needed)"; echo "0 passed, 1 failed"; exit 1; }
# The mounts go with the namespace; the empty directory they were on would stay.
trap 'umount -R "$state" 2>/dev/null; rmdir "$state" 2>/dev/null' EXIT

source "$repo/Tests/lib/check.sh"

# new_root NAME: a fresh copy of / at $state/NAME/root, ready for chroot; prints its path.
new_root() {
    local d=$state/$1 r n
    mkdir -p "$d/upper" "$d/work" "$d/root"
    r=$d/root
    mount -t overlay "boot-test-$1" -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$r" || return 1
    mount -t proc proc "$r/proc"
    mount -t tmpfs -o mode=0755 dev "$r/dev"
    for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9; do
        IFS=: read -r name major minor <<<"$n"
        mknod -m 0666 "$r/dev/$name" c "$major" "$minor"
    done
    mount -t tmpfs -o mode=1777 tmp "$r/tmp"
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
    # man-db's trigger rebuilds its index after every dpkg run unless this file is absent.
    rm -f "$r/var/lib/man-db/auto-update"
    chmod 0755 "$r/usr/sbin/policy-rc.d"
    mkdir -p "$r/tmp/pkg"
    cp "$deb" "$r/tmp/pkg/"
    echo "$r"
}
# in_root ROOT COMMAND...: run COMMAND chrooted in ROOT, without network, stdin from /dev/null.
in_root() { local r=$1; shift; unshare -n chroot "$r" "$@" </dev/null; }
dpkg_in() { local r=$1; shift; in_root "$r" env DEBIAN_FRONTEND=noninteractive dpkg "$@"; }
status_of() { in_root "$1" dpkg-query -W -f='${db:Status-Status}' "$2" 2>/dev/null; }
debname=/tmp/pkg/$(basename "$deb")
wants=etc/systemd/system/multi-user.target.wants/ipvsadm.service

# ------------------------------------------------------------------ life cycle -----------------
t_debian_present() {
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' ipvsadm 2>/dev/null | tr -d ' ')" = ii ] ||
        { echo "Debian's ipvsadm is not installed on this machine (Scripts/setup installs it)"; return 1; }
}

# Checks run in subshells: the root they share is made before them ($R1).
t_install_over_debian() {
    local r=$R1 out install
    cp "$fixtures/rules.good" "$r/etc/ipvsadm.rules"
    cp "$r/etc/default/ipvsadm" "$state/debian-default"
    install=$(dpkg_in "$r" -i "$debname" 2>&1) || { echo "$install"; return 1; }
    echo "$install" | grep -q "Removing ipvsadm " || { echo "$install"; echo "(Debian's ipvsadm not removed?)"; return 1; }
    [ "$(status_of "$r" ipvsadm-swift)" = installed ] || { echo "ipvsadm-swift: $(status_of "$r" ipvsadm-swift)"; return 1; }
    [ "$(status_of "$r" ipvsadm)" = config-files ] || { echo "ipvsadm: $(status_of "$r" ipvsadm)"; return 1; }
    # Every file of the package is there with the package's bytes (no file lost to the
    # removal of Debian's /sbin/ipvsadm, which is the same file with a merged /usr).
    out=$(in_root "$r" dpkg --verify ipvsadm-swift 2>&1)
    [ -z "$out" ] || { echo "dpkg --verify: $out"; return 1; }
    in_root "$r" /sbin/ipvsadm -v | grep -q '^ipvsadm v1.31' || { echo "/sbin/ipvsadm -v fails"; return 1; }
    in_root "$r" /usr/sbin/ipvsadm -h >/dev/null || { echo "/usr/sbin/ipvsadm -h fails"; return 1; }
    cmp "$fixtures/rules.good" "$r/etc/ipvsadm.rules" || { echo "/etc/ipvsadm.rules changed"; return 1; }
    cmp "$state/debian-default" "$r/etc/default/ipvsadm" || { echo "Debian's /etc/default/ipvsadm changed"; return 1; }
    [ ! -e "$r/$wants" ] || { echo "the unit was enabled (AUTO was not true)"; return 1; }
    echo "$install" | grep -q "ipvsadm-swift: note: purging Debian's ipvsadm" ||
        { echo "$install"; echo "(no note about purging Debian's ipvsadm)"; return 1; }
}

t_installed_unit() {
    local r=$R1 u=$R1/lib/systemd/system/ipvsadm.service out
    grep -qx 'ExecStart=/usr/sbin/ipvsadm-rules start' "$u" &&
        grep -qx 'ExecReload=/usr/sbin/ipvsadm-rules reload' "$u" &&
        grep -qx 'ExecStop=/usr/sbin/ipvsadm-rules stop' "$u" &&
        grep -qx 'EnvironmentFile=-/etc/default/ipvsadm' "$u" || { grep -E '^(Exec|Env)' "$u"; return 1; }
    # The Exec paths exist and the Documentation= man pages are installed.
    out=$(in_root "$r" systemd-analyze verify /lib/systemd/system/ipvsadm.service 2>&1)
    [ -z "$out" ] || { echo "$out"; return 1; }
}

t_upgrade_keeps_files() {
    local r=$R1 out
    echo "-A -t 10.0.0.99:80 -s rr" >>"$r/etc/ipvsadm.rules"
    echo "IPVSADM_SAVE_ON_STOP=yes" >>"$r/etc/default/ipvsadm"
    cp "$r/etc/ipvsadm.rules" "$state/rules.before"; cp "$r/etc/default/ipvsadm" "$state/default.before"
    out=$(dpkg_in "$r" -i "$debname" 2>&1) || { echo "$out"; return 1; }
    echo "$out" | grep -q "^Unpacking ipvsadm-swift .* over (" || { echo "$out"; echo "(not an upgrade?)"; return 1; }
    cmp "$state/rules.before" "$r/etc/ipvsadm.rules" && cmp "$state/default.before" "$r/etc/default/ipvsadm"
}

t_remove_purge() {
    local r=$R1 out
    in_root "$r" systemctl enable ipvsadm.service >/dev/null 2>&1
    [ -L "$r/$wants" ] || { echo "systemctl enable made no symlink"; return 1; }
    out=$(dpkg_in "$r" -r ipvsadm-swift 2>&1) || { echo "$out"; return 1; }
    [ ! -e "$r/sbin/ipvsadm" ] && [ ! -e "$r/usr/sbin/ipvsadm-rules" ] || { echo "programs left after remove"; return 1; }
    cmp "$state/rules.before" "$r/etc/ipvsadm.rules" || { echo "remove changed /etc/ipvsadm.rules"; return 1; }
    cmp "$state/default.before" "$r/etc/default/ipvsadm" || { echo "remove changed /etc/default/ipvsadm"; return 1; }
    out=$(dpkg_in "$r" -P ipvsadm-swift 2>&1) || { echo "$out"; return 1; }
    [ "$(status_of "$r" ipvsadm-swift)" = not-installed ] || [ -z "$(status_of "$r" ipvsadm-swift)" ] ||
        { echo "after purge: $(status_of "$r" ipvsadm-swift)"; return 1; }
    cmp "$state/rules.before" "$r/etc/ipvsadm.rules" || { echo "purge deleted or changed /etc/ipvsadm.rules"; return 1; }
    [ ! -L "$r/$wants" ] || { echo "purge left the unit enabled"; return 1; }
    # /etc/default/ipvsadm is still Debian's (ipvsadm is left with its configuration files).
    cmp "$state/default.before" "$r/etc/default/ipvsadm" || { echo "purge deleted Debian's /etc/default/ipvsadm"; return 1; }
}

t_fresh_machine() {
    local r out
    r=$(new_root fresh) || return 1
    out=$(dpkg_in "$r" -P ipvsadm 2>&1) || { echo "$out"; return 1; }
    [ ! -e "$r/etc/default/ipvsadm" ] && [ ! -e "$r/etc/ipvsadm.rules" ] || { echo "Debian's files left"; return 1; }
    out=$(dpkg_in "$r" -i "$debname" 2>&1) || { echo "$out"; return 1; }
    cmp "$repo/Distribution/default/ipvsadm" "$r/etc/default/ipvsadm" || { echo "no /etc/default/ipvsadm from the template"; return 1; }
    [ ! -e "$r/etc/ipvsadm.rules" ] || { echo "the package created /etc/ipvsadm.rules"; return 1; }
    [ ! -e "$r/$wants" ] || { echo "the unit was enabled"; return 1; }
    ! echo "$out" | grep -q "note: purging" || { echo "$out"; return 1; }
    cp "$fixtures/rules.good" "$r/etc/ipvsadm.rules"
    out=$(dpkg_in "$r" -P ipvsadm-swift 2>&1) || { echo "$out"; return 1; }
    [ ! -e "$r/etc/default/ipvsadm" ] || { echo "purge left /etc/default/ipvsadm"; return 1; }
    cmp "$fixtures/rules.good" "$r/etc/ipvsadm.rules" || { echo "purge deleted /etc/ipvsadm.rules"; return 1; }
}

t_auto_true_enables() {
    local r out
    r=$(new_root auto) || return 1
    sed -i 's/^AUTO=.*/AUTO="true"/' "$r/etc/default/ipvsadm"
    cp "$fixtures/rules.good" "$r/etc/ipvsadm.rules"
    out=$(dpkg_in "$r" -i "$debname" 2>&1) || { echo "$out"; return 1; }
    [ -L "$r/$wants" ] || { echo "$out"; echo "(unit not enabled)"; return 1; }
    echo "$out" | grep -q 'ipvsadm-swift: enabled ipvsadm.service' || { echo "$out"; return 1; }
}

# ------------------------------------------------------------------ the boot -------------------
t_boot() {
    local r t=/var/lib/ipvsadm-boot-test d u g rc
    r=$(new_root boot) || return 1
    # The machine's own services stay off in the copy: its enabled units here, its init scripts
    # below (the generators are off). So do the markers that would make systemd believe it runs
    # in a container.
    find "$r/etc/systemd/system" -mindepth 2 -path '*.wants/*' -delete
    rm -f "$r/.dockerenv" "$r/run/.containerenv"
    # The package, over Debian's ipvsadm; the admin's rules file; the unit enabled.
    dpkg_in "$r" -i "$debname" >"$results/boot-install.log" 2>&1 || { cat "$results/boot-install.log"; return 1; }
    cp "$fixtures/rules.good" "$r/etc/ipvsadm.rules"
    in_root "$r" systemctl enable ipvsadm.service >/dev/null 2>&1
    [ -L "$r/$wants" ] || { echo "systemctl enable failed"; return 1; }
    # The test's files.
    mkdir -p "$r$t"
    cp "$repo/Tests/Boot/run.sh" "$fixtures/rules.good" "$fixtures/rules.broken" "$r$t/"
    # A director's network before network-online.target: a dummy interface covering the rules'
    # addresses (the kernel refuses real servers it has no route to).
    u=$r/etc/systemd/system
    cat >"$u/ipvsadm-boot-test-net.service" <<'EOF'
[Unit]
Description=boot test: the director's network (dummy interface d0)
Before=network-online.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip link set lo up
ExecStart=/sbin/ip link add d0 type dummy
ExecStart=/sbin/ip link set d0 up
ExecStart=/sbin/ip addr add 10.0.0.1/16 dev d0
ExecStart=/sbin/ip -6 addr add 2001:db8::1/64 dev d0 nodad
[Install]
WantedBy=network-online.target
EOF
    # The same unit file on a broken rules file, in a network namespace of its own.
    cp "$r/lib/systemd/system/ipvsadm.service" "$u/ipvsadm-broken-boot.service"
    mkdir -p "$u/ipvsadm-broken-boot.service.d"
    printf '[Service]\nPrivateNetwork=yes\nEnvironment=IPVSADM_RULES=/etc/ipvsadm-broken.rules\n' \
        >"$u/ipvsadm-broken-boot.service.d/test.conf"
    cp "$fixtures/rules.broken" "$r/etc/ipvsadm-broken.rules"
    cat >"$u/ipvsadm-boot-test.service" <<EOF
[Unit]
Description=boot test: Tests/Boot/run.sh, then power off
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/bash $t/run.sh $t
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=900
# Power off however the test ended (systemd 252 did not act on SuccessAction= here). With the
# results synced, nothing needs a clean shutdown: systemctl -ff calls reboot(2) itself.
ExecStopPost=/bin/sh -c 'sync; systemctl poweroff -ff'
[Install]
WantedBy=multi-user.target
EOF
    for x in ipvsadm-boot-test-net ipvsadm-broken-boot ipvsadm-boot-test; do
        in_root "$r" systemctl enable "$x.service" >/dev/null 2>&1 || { echo "cannot enable $x"; return 1; }
    done
    # Units and generators the test does not need, off for a shorter boot under emulation.
    for x in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
             systemd-udev-trigger.service systemd-udev-settle.service systemd-logind.service \
             dbus.service dbus.socket systemd-update-utmp.service systemd-update-utmp-runlevel.service \
             systemd-journal-flush.service serial-getty@ttyS0.service getty@tty1.service \
             console-getty.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
             systemd-timesyncd.service systemd-hwdb-update.service ldconfig.service \
             modprobe@drm.service modprobe@dm_mod.service modprobe@loop.service \
             modprobe@fuse.service modprobe@efi_pstore.service modprobe@configfs.service; do
        ln -sfn /dev/null "$u/$x"
    done
    mkdir -p "$r/etc/systemd/system-generators"
    for g in "$r"/lib/systemd/system-generators/* "$r"/usr/lib/systemd/system-generators/*; do
        [ -e "$g" ] || continue
        case ${g##*/} in systemd-debug-generator|systemd-fstab-generator) continue ;; esac
        ln -sfn /dev/null "$r/etc/systemd/system-generators/${g##*/}"
    done
    rm -f "$r/usr/sbin/policy-rc.d"
    umount "$r/proc" "$r/dev"
    # Boot it.
    VM_QUIET=1 VM_TIMEOUT=${BOOT_VM_TIMEOUT:-1500} bash "$repo/Scripts/vm" --systemd-root "$r" \
        >"$results/boot-console.log" 2>&1
    rc=$?
    if [ ! -s "$r$t/result.log" ]; then
        echo "no result from the guest (Scripts/vm status $rc); console: $results/boot-console.log"
        tail -n 30 "$results/boot-console.log"
        return 1
    fi
    cp "$r$t/result.log" "$results/boot-guest.log"
    return 0
}

life_start=$(date +%s)
check "Debian's ipvsadm is installed here (the package replaces it in the copies)" t_debian_present
R1=$(new_root life) || R1=
check "dpkg -i over Debian's ipvsadm: it is removed, all our files intact, rules and settings untouched, unit not enabled, a note on purging" t_install_over_debian
if [ -n "$R1" ]; then
    check "installed unit: Exec lines in /usr/sbin, /etc/default/ipvsadm, systemd-analyze verify" t_installed_unit
    check "upgrade (dpkg -i again): edited /etc/ipvsadm.rules and /etc/default/ipvsadm kept, no question" t_upgrade_keeps_files
    check "remove keeps the settings and rules; purge forgets the enabled unit, keeps /etc/ipvsadm.rules" t_remove_purge
fi
check "machine without Debian's ipvsadm: /etc/default/ipvsadm from the template, purge deletes it, never the rules" t_fresh_machine
check "replacing Debian's ipvsadm with AUTO=\"true\" enables ipvsadm.service" t_auto_true_enables
echo "boot-test: the life cycle took $(( $(date +%s) - life_start ))s"

start=$(date +%s)
check "boot with systemd as init: the guest ran Tests/Boot/run.sh" t_boot
echo "boot-test: VM boot and guest checks took $(( $(date +%s) - start ))s"
if [ -f "$results/boot-guest.log" ]; then
    grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$results/boot-guest.log"
    line=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' "$results/boot-guest.log" | tail -n1)
    if [ -n "$line" ]; then
        gp=${line%% passed*}; gf=${line#*, }; gf=${gf%% failed}
        passed=$((passed + gp)); failed=$((failed + gf))
    else
        echo "FAIL the guest's checks did not finish"; failed=$((failed + 1))
    fi
fi
summary
