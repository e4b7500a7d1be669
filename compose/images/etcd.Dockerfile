# chaos/etcd:3.4 — Debian bookworm's etcd 3.4 on the debootstrapped base.
# Built by compose/images/build.sh (no registry needed: apt uses the Debian
# mirror written into the base image's sources.list).
ARG BASE_IMAGE=chaos/base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends etcd-server etcd-client \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && /usr/bin/etcd --version && /usr/bin/etcdctl version
ENV ETCDCTL_API=3
EXPOSE 2379 2380
VOLUME ["/data"]
LABEL io.chaos.managed=true io.chaos.image=etcd
ENTRYPOINT ["/usr/bin/etcd"]
