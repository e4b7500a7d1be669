#!/usr/bin/env bash
# The small VM that tests/dm_flakey_vm.rs and tests/netem_vm.rs boot to try
# the dm-flakey, node-disk and netem scripts on a real kernel (the host's may have no
# device-mapper or netem, and a test must not touch the host's disks or
# network anyway).
#
#   build-initramfs.sh CACHE_DIR TEST_SCRIPT OUT_INITRAMFS
#
# Kernel: Debian's current stock kernel (what linux-image-amd64 depends on),
# fetched once with apt-get download into CACHE_DIR/kernel: vmlinuz, the
# modules the test needs with their dependencies (from each module's
# depends= field), in load order. Debian builds dm-mod, dm-flakey, loop,
# sch_netem, sch_htb, cls_u32, veth and ext4 as modules (crc32c_generic too:
# ext4 asks for the crc32c its checksums use by name, which needs no
# modprobe once it is loaded). A cache whose kernel
# lacks one of the wanted modules (made before it was wanted) is fetched
# again.
#
# Initramfs: busybox, dmsetup, mkfs.ext4 (the nodes' own e2fsprogs one, not
# busybox's mke2fs), iproute2's tc and ip, dash, with the
# libraries ldd names, tc's jitter distribution tables, the modules and
# an /init that mounts /proc, /sys, /dev (devtmpfs), /tmp and /run (for
# `ip netns`), loads the modules, runs /test.sh and powers off. Busybox's
# shell runs its own applets before anything on PATH, and its `tc` and `ip`
# know no netem: a script that needs iproute2's runs under dash (as the
# fault helpers' scripts do on Debian), where PATH decides. That part is cached as
# CACHE_DIR/base.cpio (rebuilt when this script or the kernel changes); each
# run appends a small archive holding TEST_SCRIPT as /test.sh (the kernel
# unpacks concatenated archives in turn) and writes OUT_INITRAMFS.
#
# Prints `kernel=PATH` and `release=RELEASE` on stdout.
# Exit 2: a host tool is missing. Exit 3: no kernel package can be had.
# Exit 1: anything else.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 CACHE_DIR TEST_SCRIPT OUT_INITRAMFS" >&2
  exit 1
fi
cache=$1 test_script=$2 out=$3
wanted_modules=(dm-flakey loop sch_netem sch_htb cls_u32 veth crc32c_generic ext4)

need() {
  for tool; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool (install it, or run .ci/run)" >&2; exit 2; }
  done
}
need busybox dmsetup mkfs.ext4 tc ip dash ldd sha256sum

mkdir -p "$cache"
# One preparation at a time: test runs of several checkouts may share the
# cache (a shared target dir).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache/lock"
  flock 9
fi
scratch=$(mktemp -d "$cache/scratch.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The kernel package linux-image-amd64 points at today.
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

# Copy module $1 (and first its dependencies) from the unpacked package
# into $kernel_dir/modules, uncompressed, and append it to the load order.
add_module() {
  local name=$1 file dest dep
  grep -qxF "$name" "$kernel_dir/modules/order" 2>/dev/null && return 0
  file=$(find "$scratch/root/lib/modules" \( -name "$name.ko*" -o -name "${name//-/_}.ko*" \) | head -n 1)
  if [ -z "$file" ]; then echo "module $name is not in $pkg" >&2; exit 1; fi
  dest=$kernel_dir/modules/$name.ko
  case $file in
    *.ko) cp "$file" "$dest" ;;
    *.ko.xz) need xz; xz -dc "$file" >"$dest" ;;
    *.ko.zst) need zstd; zstd -qdc "$file" >"$dest" ;;
    *) echo "module $file: unknown compression" >&2; exit 1 ;;
  esac
  for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$dest" | head -n 1 | cut -d= -f2 | tr , ' '); do
    add_module "$dep"
  done
  echo "$name" >>"$kernel_dir/modules/order"
}

# Does the cached kernel carry every wanted module?
have_modules() {
  local m
  [ -s "$cache/kernel/release" ] || return 1
  for m in "${wanted_modules[@]}"; do
    grep -qxF "$m" "$cache/kernel/modules/order" 2>/dev/null || return 1
  done
}

if ! have_modules; then
  need apt-get apt-cache dpkg-deb
  pkg=$(kernel_package)
  if [ -z "$pkg" ]; then
    # A fresh machine may have no package lists yet (works as root only).
    apt-get update -qq >&2 || true
    pkg=$(kernel_package)
  fi
  if [ -z "$pkg" ]; then
    echo "apt knows no linux-image-amd64: no Debian kernel package can be had" >&2
    exit 3
  fi
  if ! (cd "$scratch" && apt-get download -q "$pkg" >&2); then
    echo "apt-get download $pkg failed" >&2
    exit 3
  fi
  dpkg-deb -x "$scratch"/*.deb "$scratch/root"
  release=$(ls "$scratch/root/lib/modules")
  kernel_dir=$scratch/kernel
  mkdir -p "$kernel_dir/modules"
  cp "$scratch/root/boot/vmlinuz-$release" "$kernel_dir/vmlinuz"
  for m in "${wanted_modules[@]}"; do add_module "$m"; done
  echo "$pkg" >"$kernel_dir/package"
  echo "$release" >"$kernel_dir/release"
  rm -rf "$cache/kernel"
  mv "$kernel_dir" "$cache/kernel"
  rm -rf "$scratch/root" "$scratch"/*.deb
fi
release=$(cat "$cache/kernel/release")

# Copy executable $1 to $2 in the image, with the shared libraries it loads
# at their own paths (nothing for a static binary).
copy_with_libs() {
  local root=$1 bin=$2 dest=$3 lib
  install -D -m 0755 "$(readlink -f "$bin")" "$root/$dest"
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

stamp="$(sha256sum "$0" | cut -c1-16) $release"
if [ ! -s "$cache/base.cpio" ] || [ "$(cat "$cache/base.stamp" 2>/dev/null)" != "$stamp" ]; then
  root=$scratch/base
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,modules}
  copy_with_libs "$root" "$(command -v busybox)" bin/busybox
  copy_with_libs "$root" "$(command -v dmsetup)" sbin/dmsetup
  copy_with_libs "$root" "$(command -v mkfs.ext4)" sbin/mkfs.ext4
  copy_with_libs "$root" "$(command -v tc)" sbin/tc
  copy_with_libs "$root" "$(command -v ip)" sbin/ip
  copy_with_libs "$root" "$(command -v dash)" bin/dash
  # tc reads normal.dist and the others from where it was built to look.
  for table in /usr/lib/*/tc/normal.dist /usr/lib/tc/normal.dist /usr/lib64/tc/normal.dist; do
    if [ -f "$table" ]; then
      mkdir -p "$root$(dirname "$table")"
      cp "$(dirname "$table")"/*.dist "$root$(dirname "$table")/"
    fi
  done
  cp "$cache/kernel/modules/"* "$root/modules/"
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
while read -r module; do
  insmod "/modules/$module.ko" || echo "@@ insmod-$module rc=1"
done </modules/order
echo "@@ booted rc=0 $(uname -r)"
sh /test.sh
echo "@@ finished rc=$?"
poweroff -f
EOF
  chmod 0755 "$root/init"
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) >"$cache/base.cpio.new"
  mv "$cache/base.cpio.new" "$cache/base.cpio"
  echo "$stamp" >"$cache/base.stamp"
fi

# This run's test script, appended as a second archive.
mkdir -p "$scratch/run"
install -m 0755 "$test_script" "$scratch/run/test.sh"
(cd "$scratch/run" && echo test.sh | busybox cpio -o -H newc 2>/dev/null) >"$scratch/run.cpio"
cat "$cache/base.cpio" "$scratch/run.cpio" >"$out"

echo "kernel=$cache/kernel/vmlinuz"
echo "release=$release"
