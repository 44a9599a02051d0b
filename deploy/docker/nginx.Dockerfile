# nginx.Dockerfile -- nginx for docker-compose.yml: Debian 12's nginx with boardhook's shipped site, as an unprivileged user.
#
# deploy/docker/nginx-entrypoint renders nginx/boardhook-site.conf.in (ports 80 and 443) and
# its snippets with scripts/lib/render-nginx at every start, for BOARDHOOK_DOMAIN, with the
# certificate certbot keeps in the shared certs volume; until the first one exists it serves
# port 80 only (ACME). The user, boardhook-edge, is the certbot container's too: nginx must read
# the private key that certbot writes 0600.
FROM debian:12-slim
# python3 runs render-nginx (python3-minimal would not do: argparse needs shutil, which it lacks);
# curl is the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        nginx python3 curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10003 boardhook-edge \
 && useradd --system --uid 10003 --gid boardhook-edge --home-dir /nonexistent \
            --shell /usr/sbin/nologin boardhook-edge \
 && install -d -o boardhook-edge -g boardhook-edge -m 0755 /etc/letsencrypt /var/www/acme \
 && install -d -m 1777 /var/lib/boardhook-nginx
# /var/lib/boardhook-nginx is a tmpfs in docker-compose.yml, root's, mode 1777 like /tmp: Docker's
# tmpfs has that mode, and podman's takes the mode of the folder it covers (its owner stays root).
COPY scripts/lib/render-nginx /usr/local/share/boardhook/scripts/lib/render-nginx
COPY nginx/boardhook-site.conf.in nginx/boardhook-location.conf nginx/boardhook-upstream.conf \
     /usr/local/share/boardhook/nginx/
COPY deploy/docker/nginx.conf.in deploy/docker/nginx-acme-site.conf.in /usr/local/share/boardhook/docker/
COPY deploy/docker/nginx-entrypoint /usr/local/bin/nginx-entrypoint
USER boardhook-edge
EXPOSE 80 443
# SIGQUIT: nginx finishes the requests in flight, then exits.
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/nginx-entrypoint"]
