# redis.Dockerfile -- the queue Redis for docker-compose.yml: Debian 12's redis-server with redis/boardhook.conf, and redis-sentinel for the `replicated` profile.
#
# The settings are the shipped files' (redis/boardhook.conf: appendonly yes, appendfsync everysec,
# noeviction; redis/boardhook-replication.conf and redis/sentinel.conf for the profile's nodes and
# Sentinels); deploy/docker/redis-entrypoint changes only where they listen and, in the profile,
# the names the nodes announce. boardhook.conf binds loopback, and here the handler and workers
# come from other containers. They reach it on docker-compose.yml's `backend` network, which is
# internal, and no port is ever published.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server redis-sentinel \
 && rm -rf /var/lib/apt/lists/*
# Over Debian's sentinel.conf too: the image's files are the templates; a Sentinel runs its own
# copy in its volume (redis-entrypoint), since it rewrites it.
COPY redis/boardhook.conf redis/boardhook-replication.conf redis/sentinel.conf /etc/redis/
COPY deploy/docker/redis-entrypoint /usr/local/bin/redis-entrypoint
# The data volume is mounted on /data; an empty named volume takes this owner.
RUN install -d -o redis -g redis -m 0750 /data
USER redis
WORKDIR /data
EXPOSE 6379 26379
# SIGTERM: Redis flushes the append-only file and exits.
STOPSIGNAL SIGTERM
# The lone Redis (docker-compose.yml's `redis` service without the profile).
CMD ["redis-entrypoint", "redis", "redis"]
