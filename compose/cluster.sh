#!/usr/bin/env bash
# Bring a chaos test cluster up or down by hand, on compose v1 (docker-compose,
# Debian's) or v2 (docker compose). v1 has no `up --wait`, so `up` polls the
# containers' health checks itself.
#
# usage: compose/cluster.sh up|down|ps|ports|wait|logs CLUSTER
#   CLUSTER               etcd-3 | etcd-5 | nats-3 | nats-5 (compose/CLUSTER.yml)
#   COMPOSE_PROJECT_NAME  the cluster's name (default chaos-CLUSTER, e.g. chaos-etcd-3)
#   CHAOS_UP_TIMEOUT      seconds `up`/`wait` wait for every node to be healthy (default 120)
#   CHAOS_COMPOSE         the compose command (default: `docker compose` if it works, else docker-compose)
#   CHAOS_RUN_ID          the io.chaos.run label (default: the project name)
#   ETCD_IMAGE NATS_IMAGE CHAOS_NET CHAOS_HEALTH_INTERVAL are passed on to the compose file.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { echo "chaos cluster: $*"; }
die() { echo "chaos cluster: error: $*" >&2; exit 1; }
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2; exit 254; }

[[ $# -eq 2 ]] || usage
cmd=$1 cluster=$2
file=$HERE/$cluster.yml
[[ -f $file ]] || die "no compose file $file (clusters: $(cd "$HERE" && ls *.yml | sed 's/\.yml$//' | tr '\n' ' '))"
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-chaos-$cluster}
# the io.chaos.run label: a run id of its own per cluster, so `chaos heal --run` can tell them apart
export CHAOS_RUN_ID=${CHAOS_RUN_ID:-$COMPOSE_PROJECT_NAME}
project=$COMPOSE_PROJECT_NAME

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "cannot reach the Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}: start it or set DOCKER_HOST"
if [[ -n ${CHAOS_COMPOSE:-} ]]; then
  read -r -a compose <<<"$CHAOS_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  die "neither 'docker compose' nor docker-compose found (apt-get install docker-compose)"
fi
dc() { "${compose[@]}" -f "$file" "$@"; }

containers() { docker ps -a -q --filter "label=io.chaos.cluster=$project" --filter label=io.chaos.managed=true; }

# name node health state host-port(s), one line per node
status() {
  local c
  for c in $(containers); do
    docker inspect --format '{{index .Config.Labels "io.chaos.node"}} {{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.Status}}' "$c"
  done | sed 's# /# #' | sort
}

now_ms() { date +%s%3N; }
elapsed() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d' $((d / 1000)) $((d % 1000 / 100)); }

wait_healthy() { # [start time in ms]
  local timeout=${CHAOS_UP_TIMEOUT:-120} t0=${1:-$(now_ms)} want have bad node name health state
  want=$(grep -cE '^  n[0-9]+:$' "$file")
  while :; do
    have=0 bad=""
    while read -r node name health state; do
      [[ -n ${node:-} ]] || continue
      [[ $health == healthy ]] && have=$((have + 1))
      [[ $state == exited || $state == dead ]] && bad+=" $name"
    done < <(status)
    if [[ $have -eq $want ]]; then
      say "$project: $have/$want nodes healthy after $(elapsed "$t0") s"
      return 0
    fi
    if [[ -n $bad ]]; then
      for name in $bad; do docker logs --tail 15 "$name" 2>&1 | sed "s/^/    $name: /" >&2; done
      die "$project: node(s) exited:$bad"
    fi
    if (( $(now_ms) - t0 >= timeout * 1000 )); then
      status | sed 's/^/    /' >&2
      die "$project: $have/$want nodes healthy after ${timeout} s"
    fi
    sleep 0.5
  done
}

ports() {
  local c node p
  for c in $(containers); do
    node=$(docker inspect --format '{{index .Config.Labels "io.chaos.node"}}' "$c")
    for p in 2379 4222 8222; do
      docker port "$c" "$p" 2>/dev/null | grep -m1 '^127\.0\.0\.1:' | sed "s#^#$node $p #" || true
    done
  done | sort
}

case "$cmd" in
  up)
    say "$project: up ($cluster, $("${compose[@]}" version --short 2>/dev/null || echo compose))"
    t_up=$(now_ms)
    # our own images cannot be pulled: say how to build them instead of
    # letting compose try a registry
    for image in $(dc config 2>/dev/null | awk '$1 == "image:" { print $2 }' | sort -u); do
      if [[ $image == chaos/* ]] && ! docker image inspect "$image" >/dev/null 2>&1; then
        die "image $image is not present: build it with $HERE/images/build.sh"
      fi
    done
    dc up -d --remove-orphans || die "$project: compose up failed"
    wait_healthy "$t_up"
    ports
    ;;
  wait) wait_healthy ;;
  down)
    dc down -v --remove-orphans --timeout 5
    left=$(containers; docker network ls -q --filter "label=io.chaos.cluster=$project"; docker volume ls -q --filter "label=io.chaos.cluster=$project")
    [[ -z $left ]] || die "$project: left behind after down: $(echo $left)"
    say "$project: down, nothing left"
    ;;
  ps) status ;;
  ports) ports ;;
  logs) dc logs --no-color --tail 200 ;;
  *) usage ;;
esac
