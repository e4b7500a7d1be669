#!/usr/bin/env bash
# Build the local images the chaos compose clusters run on, without any
# container registry:
#
#   chaos/base:bookworm  minimal Debian bookworm from debootstrap (--variant=minbase)
#                        + iptables iproute2 procps curl netcat-openbsd ca-certificates
#                        iputils-ping fuse3 (fusermount3, for the disk faults'
#                        fault filesystem under a node's data) dmsetup e2fsprogs
#                        (a node's data on dm-flakey: the device, and mkfs.ext4)
#                        (also the image of the NET_ADMIN helper the harness runs)
#   one image per system, from compose/images/<system>.Dockerfile (FROM the
#   base + the system's Debian packages), tagged with the first word after
#   "# " on the file's first line: chaos/etcd:3.4, chaos/nats:2.9, ...
#   with --harness BINARY: chaos/harness:latest (and :<version>), from
#   compose/harness/Dockerfile: the base + BINARY (stripped) + compose/
#
# Idempotent: images already present are kept (the base while it holds the
# same package list, the harness while it holds the same BINARY); --force
# rebuilds them all.
# Needs root (debootstrap) and a reachable Debian mirror; pulls nothing.
#
# usage: compose/images/build.sh [--force] [--verbose] [--harness BINARY]
#   CHAOS_DEBIAN_MIRROR  mirror to debootstrap from (default: the host's apt
#                        sources for bookworm, else http://deb.debian.org/debian)
#   TMPDIR               where the temporary rootfs goes (default /var/tmp)
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=bookworm
BASE_IMAGE=chaos/base:bookworm
PACKAGES=iptables,iproute2,procps,curl,netcat-openbsd,ca-certificates,iputils-ping,fuse3,dmsetup,e2fsprogs
LABEL_MANAGED=io.chaos.managed=true

force=0 verbose=0 harness_binary=""
while [[ $# -gt 0 ]]; do
  arg=$1; shift
  case "$arg" in
    --force|-f) force=1 ;;
    --verbose|-v) verbose=1 ;;
    --harness)
      [[ $# -gt 0 ]] || { echo "chaos images: error: --harness needs the chaos binary to put in chaos/harness" >&2; exit 254; }
      harness_binary=$1; shift
      [[ -x $harness_binary ]] || { echo "chaos images: error: --harness $harness_binary: not an executable file" >&2; exit 254; } ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos images: error: unknown argument '$arg' (usage: build.sh [--force] [--verbose] [--harness BINARY])" >&2; exit 254 ;;
  esac
done

say() { echo "chaos images: $*"; }
die() { echo "chaos images: error: $*" >&2; exit 1; }

# Two builds at once (parallel tests, two terminals) would both debootstrap
# and race on the tags: the second waits for the first, then finds the
# images present.
lockfile=${TMPDIR:-/var/tmp}/chaos-images.lock
exec 9>"$lockfile" || die "cannot open $lockfile: set TMPDIR to a writable folder"
if ! flock -n 9; then
  say "another build is running; waiting for it"
  flock 9
fi

workdir="" context="" log="" child=""
stop_child() { # the step running now, with everything it started (its own session)
  [[ -n $child ]] && kill -0 "$child" 2>/dev/null || return 0
  kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$child" 2>/dev/null || true
  wait "$child" 2>/dev/null || true
  child=""
}
cleanup() {
  local rc=$?
  stop_child
  if [[ -n "$workdir" && -d "$workdir" ]]; then
    # debootstrap mounts proc/sys inside the target; if it died half-way they
    # may still be mounted: unmount (deepest first) before deleting anything.
    local m
    while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done < <(awk -v d="$workdir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$workdir" 2>/dev/null || true
  fi
  [[ -z "$context" ]] || rm -rf "$context" 2>/dev/null || true
  if [[ -n "$log" && -f "$log" ]]; then
    if [[ $rc -eq 0 ]]; then rm -f "$log"; else echo "chaos images: full log kept in $log" >&2; fi
  fi
}
trap cleanup EXIT
trap 'echo "chaos images: error: interrupted" >&2; exit 130' INT TERM

# Run a noisy step in its own session (so an interrupt can stop it and all it
# started before the rootfs is deleted); its output goes to the log (or the
# terminal too with --verbose). On failure the log's tail is shown, then one
# clear error line.
run_step() {
  local what=$1 rc=0; shift
  if [[ $verbose -eq 1 ]]; then
    setsid "$@" > >(tee -a "$log") 2>&1 &
  else
    setsid "$@" >>"$log" 2>&1 &
  fi
  child=$!
  wait "$child" || rc=$?
  child=""
  if [[ $rc -ne 0 ]]; then
    [[ $verbose -eq 1 ]] || tail -n 25 "$log" | sed 's/^/    /' >&2
    die "$what failed (exit $rc)"
  fi
}

command -v docker >/dev/null 2>&1 || die "the docker command is not installed (apt-get install docker.io)"
docker_err=$(docker version --format '{{.Server.Version}}' 2>&1 >/dev/null) || {
  die "cannot reach the Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}: start it or set DOCKER_HOST (${docker_err//$'\n'/ })"
}

present() { docker image inspect "$1" >/dev/null 2>&1; }
# The base is current while its label names this script's package list: a
# package added here rebuilds it (and the images FROM it) on the next build.
base_current() {
  [[ $(docker image inspect --format '{{ index .Config.Labels "io.chaos.packages" }}' "$BASE_IMAGE" 2>/dev/null) == "$PACKAGES" ]]
}

# "tag:file" for every system's Dockerfile: adding a system adds a file here,
# never a line to this script.
system_images=()
for dockerfile in "$HERE"/*.Dockerfile; do
  tag=$(head -n 1 "$dockerfile" | awk '{ print $2 }')
  [[ $tag == */*:* ]] || die "$dockerfile: its first line must be '# <image:tag> — ...' (e.g. '# chaos/etcd:3.4 — ...')"
  system_images+=("$tag:$(basename "$dockerfile")")
done

all_present() {
  base_current || return 1
  local pair
  for pair in "${system_images[@]}"; do present "${pair%:*}" || return 1; done
}
# chaos/harness holds one binary: it is current while its label names the
# binary's digest.
HARNESS_IMAGE=chaos/harness:latest
harness_digest=""
[[ -z $harness_binary ]] || harness_digest=$(sha256sum "$harness_binary" | awk '{ print $1 }')
harness_current() {
  [[ -z $harness_binary ]] && return 0
  [[ $(docker image inspect --format '{{ index .Config.Labels "io.chaos.binary" }}' "$HARNESS_IMAGE" 2>/dev/null) == "$harness_digest" ]]
}
if [[ $force -eq 0 ]] && all_present && harness_current; then
  say "images present: $BASE_IMAGE ${system_images[*]%:*}${harness_binary:+ $HARNESS_IMAGE} (nothing to do; --force rebuilds)"
  exit 0
fi

log=$(mktemp "${TMPDIR:-/var/tmp}/chaos-images.XXXXXX.log")
started=$SECONDS

# --- the Debian mirror: the host's own apt sources for bookworm if it has them
# Prints "URI SUITE" pairs for the suites bookworm, bookworm-updates and
# bookworm-security found in the host's apt sources (one-line and deb822).
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822: blank-line separated stanzas with Types/URIs/Suites/Enabled
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
        types = ""; enabled = ""; nu = 0; ns = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = "" }
      key == "types"   { types = $0 }
      key == "enabled" { enabled = tolower($2) }
      key == "uris"    { nu = split($0, u, " ") }
      key == "suites"  { ns = split($0, s, " ") }
      END { flush() }' "$f"
  done
}

mirror="${CHAOS_DEBIAN_MIRROR:-}"
sources=""
while read -r uri suite; do
  [[ $uri == http://* || $uri == https://* ]] || continue
  case "$suite" in
    "$SUITE")
      [[ -n $mirror ]] || mirror=${uri%/}
      sources+="deb ${uri%/} $suite main"$'\n' ;;
    "$SUITE-updates"|"$SUITE-security")
      sources+="deb ${uri%/} $suite main"$'\n' ;;
  esac
done < <(host_sources 2>/dev/null | awk '!seen[$0]++')
if [[ -z $mirror ]]; then
  mirror=http://deb.debian.org/debian
fi
if [[ -z $sources || -n ${CHAOS_DEBIAN_MIRROR:-} ]]; then
  sources="deb $mirror $SUITE main"$'\n'"deb $mirror $SUITE-updates main"$'\n'
fi

# --- chaos/base:bookworm ----------------------------------------------------
build_base() {
  [[ $EUID -eq 0 ]] || die "debootstrap needs root: run this script as root (sudo $0)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap (apt-get)"
    run_step "apt-get install debootstrap" sh -c 'apt-get install -y --no-install-recommends debootstrap || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }'
  fi
  workdir=$(mktemp -d "${TMPDIR:-/var/tmp}/chaos-rootfs.XXXXXX")
  local rootfs=$workdir/rootfs
  say "debootstrap $SUITE (minbase) from $mirror ..."
  local t0=$SECONDS
  run_step "debootstrap $SUITE from $mirror" \
    debootstrap --variant=minbase --components=main --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror"
  say "debootstrap done in $((SECONDS - t0)) s; slimming the rootfs"

  printf '%s' "$sources" >"$rootfs/etc/apt/sources.list"
  # like Debian's official images: no docs/man/locales from later installs,
  # no recommends, apt caches cleaned after every install, no daemons started
  # by package scripts during a docker build
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d" "$rootfs/etc/apt/apt.conf.d"
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/chaos-minimal" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
  cat >"$rootfs/etc/apt/apt.conf.d/90chaos" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
CFG
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
         "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.bash_history
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  # docker provides these per container; do not bake the host's into the image
  : >"$rootfs/etc/resolv.conf"; : >"$rootfs/etc/hostname"
  printf '127.0.0.1\tlocalhost\n' >"$rootfs/etc/hosts"

  say "importing $BASE_IMAGE"
  run_step "docker import of $BASE_IMAGE" bash -c 'set -o pipefail
    tar --numeric-owner --xattrs -C "$1" -c . | docker import \
      --change "LABEL io.chaos.managed=true io.chaos.image=base io.chaos.debian.suite=$2 io.chaos.packages=$4" \
      --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8" \
      --change "CMD [\"/bin/bash\"]" \
      - "$3"' _ "$rootfs" "$SUITE" "$BASE_IMAGE" "$PACKAGES"
  rm -rf --one-file-system "$workdir"; workdir=""
}

build_system() { # image dockerfile
  local image=$1 dockerfile=$2 t0=$SECONDS
  say "docker build $image (apt-get install inside the build) ..."
  # DOCKER_BUILDKIT=0: the classic builder ships with every engine; buildx may
  # be missing (it is on Debian's docker.io 20.10).
  run_step "docker build of $image" env DOCKER_BUILDKIT=0 docker build --pull=false \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$LABEL_MANAGED" \
    -t "$image" -f "$HERE/$dockerfile" "$HERE"
  say "$image built in $((SECONDS - t0)) s"
}

base_built=0
if [[ $force -eq 1 ]] || ! base_current; then
  present "$BASE_IMAGE" && say "$BASE_IMAGE is older than this script's package list: rebuilding it"
  build_base
  base_built=1
else
  say "$BASE_IMAGE present"
fi
for pair in "${system_images[@]}"; do
  image=${pair%:*} dockerfile=${pair##*:}
  if [[ $force -eq 1 || $base_built -eq 1 ]] || ! present "$image"; then
    build_system "$image" "$dockerfile"
  else
    say "$image present"
  fi
done
# --- chaos/harness ----------------------------------------------------------
build_harness() {
  local t0=$SECONDS version
  version=$("$harness_binary" --version 2>/dev/null | awk '{ print $2 }')
  [[ -n $version ]] || die "$harness_binary --version printed no version: is it the chaos binary?"
  context=$(mktemp -d "${TMPDIR:-/var/tmp}/chaos-harness.XXXXXX")
  # The binary without its debug sections (a release build keeps line
  # tables: 125 MB, 15 MB stripped); as it is if strip is missing.
  strip -o "$context/chaos" "$harness_binary" 2>/dev/null || cp "$harness_binary" "$context/chaos"
  cp -r "$HERE/.." "$context/compose"
  say "docker build $HARNESS_IMAGE ($harness_binary, chaos $version) ..."
  run_step "docker build of $HARNESS_IMAGE" env DOCKER_BUILDKIT=0 docker build --pull=false \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$LABEL_MANAGED" --label io.chaos.image=harness \
    --label "io.chaos.binary=$harness_digest" \
    -t "$HARNESS_IMAGE" -t "chaos/harness:$version" -f "$HERE/../harness/Dockerfile" "$context"
  rm -rf "$context"; context=""
  # A binary built against a newer C library than bookworm's would not start.
  local said
  said=$(docker run --rm "$HARNESS_IMAGE" --version 2>&1) ||
    die "$HARNESS_IMAGE does not run its binary ($said): build chaos on Debian bookworm (or older) and try again"
  say "$HARNESS_IMAGE built in $((SECONDS - t0)) s: $said"
}
if [[ -n $harness_binary ]]; then
  if [[ $force -eq 1 || $base_built -eq 1 ]] || ! harness_current; then
    build_harness
  else
    say "$HARNESS_IMAGE present (same binary)"
  fi
fi

# the classic builder leaves dangling layers when a tag moves; drop ours
docker image prune -f --filter "label=$LABEL_MANAGED" >/dev/null 2>&1 || true

say "done in $((SECONDS - started)) s:"
docker image ls --filter "label=$LABEL_MANAGED" --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -v '<none>' | sed 's/^/  /' || true
