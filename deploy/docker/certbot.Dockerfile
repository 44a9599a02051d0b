# certbot.Dockerfile -- certbot for docker-compose.yml: Debian 12's certbot obtaining and renewing the certificate through nginx's webroot.
#
# Runs deploy/docker/certbot-entrypoint as boardhook-edge, the nginx container's user, so that
# nginx can read the private key certbot writes 0600 into the shared certs volume.
FROM debian:12-slim
# openssl: the health check reads the certificate's expiry.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        certbot ca-certificates openssl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10003 boardhook-edge \
 && useradd --system --uid 10003 --gid boardhook-edge --home-dir /nonexistent \
            --shell /usr/sbin/nologin boardhook-edge \
 && install -d -o boardhook-edge -g boardhook-edge -m 0755 /etc/letsencrypt /var/www/acme \
 && install -d -m 1777 /var/lib/letsencrypt /var/log/letsencrypt
# /var/lib/letsencrypt and /var/log/letsencrypt are tmpfs in docker-compose.yml, root's, mode 1777
# like /tmp: Docker's tmpfs has that mode, and podman's takes the mode of the folder it covers.
COPY deploy/docker/certbot-entrypoint /usr/local/bin/certbot-entrypoint
USER boardhook-edge
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/certbot-entrypoint"]
