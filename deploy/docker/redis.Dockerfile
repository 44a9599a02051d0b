# redis.Dockerfile -- the queue Redis for docker-compose.yml: Debian 12's redis-server with redis/boardhook.conf.
#
# The settings are the shipped file's (appendonly yes, appendfsync everysec, noeviction); only
# where it listens changes, on the command line (arguments after the file win): boardhook.conf
# binds loopback, and here the handler and workers come from other containers. They reach it on
# docker-compose.yml's `backend` network, which is internal, and the port is never published.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
COPY redis/boardhook.conf /etc/redis/boardhook.conf
# The data volume is mounted on /data; an empty named volume takes this owner.
RUN install -d -o redis -g redis -m 0750 /data
USER redis
WORKDIR /data
EXPOSE 6379
# SIGTERM: Redis flushes the append-only file and exits.
STOPSIGNAL SIGTERM
CMD ["redis-server", "/etc/redis/boardhook.conf", "--port", "6379", "--dir", "/data", \
     "--bind", "* -::*", "--protected-mode", "no"]
