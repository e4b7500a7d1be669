# chaos/nats:2.9 — Debian bookworm's nats-server 2.9 (JetStream) on the
# debootstrapped base. Built by compose/images/build.sh.
ARG BASE_IMAGE=chaos/base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && /usr/sbin/nats-server --version
EXPOSE 4222 6222 8222
VOLUME ["/data"]
LABEL io.chaos.managed=true io.chaos.image=nats
ENTRYPOINT ["/usr/sbin/nats-server"]
