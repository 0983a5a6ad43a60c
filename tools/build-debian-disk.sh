#!/usr/bin/env bash
# Build a raw ext4 disk image with a minimal Debian for Petrel guests:
# debootstrap --variant=minbase plus systemd, a serial getty on ttyS0,
# systemd-networkd DHCP on the virtio NIC, openssh-server and the guest
# kernel's modules. Root's password is "petrel" (see docs/guest-images.md).
#
# Usage: tools/build-debian-disk.sh [-o IMAGE] [-s SIZE] [-d DIR] [-r SUITE]
#                                   [-k SSH_PUBKEY] [-g GUEST_DIR]
#   -o IMAGE   output raw image (default build/debian.img)
#   -s SIZE    image size for mkfs.ext4 (default 2G)
#   -d DIR     root folder to debootstrap into (default build/debian-root;
#              reused, not re-downloaded, when it already holds a system)
#   -r SUITE   Debian suite (default: the host's, else bookworm)
#   -k FILE    also install FILE as root's authorized_keys
#   -g DIR     guest dir with modules/ and kernel-version (default build/guest)
# Needs root (debootstrap, chroot) and Debian's archive.
set -euo pipefail
cd "$(dirname "$0")/.."
img=build/debian.img
size=2G
dir=build/debian-root
suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
suite=${suite:-bookworm}
key=""
guest=build/guest
while getopts "o:s:d:r:k:g:h" opt; do
	case $opt in
	o) img=$OPTARG ;;
	s) size=$OPTARG ;;
	d) dir=$OPTARG ;;
	r) suite=$OPTARG ;;
	k) key=$OPTARG ;;
	g) guest=$OPTARG ;;
	*) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
step() { echo "build-debian-disk: [$(date +%T)] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "build-debian-disk: needs root" >&2; exit 1; }
if ! command -v debootstrap >/dev/null; then
	step "installing debootstrap"
	apt-get install -y debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y debootstrap >/dev/null; }
fi
command -v mkfs.ext4 >/dev/null || { echo "build-debian-disk: mkfs.ext4 missing (e2fsprogs)" >&2; exit 1; }
# The archive the host already uses.
mirror=$(grep -hoE '(URIs:|^deb) +https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null |
	awk '{ print $2; exit }' || true)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$dir" "$(dirname "$img")"
dir=$(cd "$dir" && pwd)
if [ ! -x "$dir/lib/systemd/systemd" ]; then
	step "debootstrap $suite (minbase) from $mirror into $dir"
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,udev,dbus,kmod,iproute2,iputils-ping,netbase,openssh-server,procps,less,e2fsprogs \
		"$suite" "$dir" "$mirror" 2>&1 | while read -r l; do
			case "$l" in I:\ Retrieving* | I:\ Validating*) ;; *) echo "  $l" >&2 ;; esac
		done
	[ -x "$dir/lib/systemd/systemd" ] || { echo "build-debian-disk: debootstrap failed" >&2; exit 1; }
else
	step "reusing the system in $dir"
fi

step "configuring"
echo petrel > "$dir/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tpetrel\n' > "$dir/etc/hosts"
printf '# Petrel: the virtio-blk disk is the root.\n/dev/vda\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' > "$dir/etc/fstab"
mkdir -p "$dir/etc/systemd/network" "$dir/etc/systemd/system/getty.target.wants" \
	"$dir/etc/systemd/system/multi-user.target.wants" "$dir/etc/ssh/sshd_config.d" "$dir/root/.ssh"
cat > "$dir/etc/systemd/network/20-virtio.network" <<'NET'
# Any Ethernet interface (the virtio NIC is en* or eth*): DHCP, which slirp
# answers with 10.0.2.15.
[Match]
Type=ether

[Network]
DHCP=yes
NET
# No display here: the tty1 getty would only wait on a missing VGA console.
rm -f "$dir/etc/systemd/system/getty.target.wants/getty@tty1.service"
ln -sf /lib/systemd/system/serial-getty@.service "$dir/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
chroot "$dir" systemctl enable systemd-networkd.service ssh.service >/dev/null 2>&1 || true
# Slow software-CPU boots must not hit the default job timeouts.
mkdir -p "$dir/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultTimeoutStartSec=600s\nDefaultDeviceTimeoutSec=600s\n' > "$dir/etc/systemd/system.conf.d/petrel.conf"
printf 'PermitRootLogin yes\n' > "$dir/etc/ssh/sshd_config.d/petrel.conf"
echo 'root:petrel' | chroot "$dir" chpasswd
if [ -n "$key" ]; then
	install -m 600 "$key" "$dir/root/.ssh/authorized_keys"
fi
chmod 700 "$dir/root/.ssh"
# The guest kernel's modules, so udev can load drivers after switch_root.
if [ -s "$guest/kernel-version" ] && [ -d "$guest/modules" ]; then
	kver=$(cat "$guest/kernel-version")
	step "adding modules of Linux $kver"
	rm -rf "$dir/lib/modules/$kver"
	mkdir -p "$dir/lib/modules"
	cp -a "$guest/modules" "$dir/lib/modules/$kver"
	chroot "$dir" depmod "$kver" || true
fi
chroot "$dir" apt-get clean >/dev/null 2>&1 || true

step "mkfs.ext4 -d $dir $img ($size)"
rm -f "$img"
mkfs.ext4 -q -F -L petrel-root -d "$dir" "$img" "$size"
step "done: $(du -h --apparent-size "$img" | cut -f1) image, $(du -sh "$img" | cut -f1) used"
echo "$img"
