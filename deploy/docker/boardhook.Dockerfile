# boardhook.Dockerfile -- images of boardhook-handler and boardhook-worker from Debian 12 packages (targets: handler, worker).
#
# Build context: the repository's top folder (docker-compose.yml sets it), e.g.
#     docker build -f deploy/docker/boardhook.Dockerfile --target handler -t boardhook-handler .
# Stages: `build` compiles with Debian's toolchain and libraries; `runtime` is debian:12-slim with
# only the shared libraries the binaries link (tests/integration/test_deploy_files.py checks this
# list against `ldd` of the built binaries); `handler` and `worker` add what each one runs.

FROM debian:12 AS build
# The build packages come from the one list scripts/run and scripts/test use (a bash array, so
# bash; not SHELL, which OCI-format builders such as buildah ignore).
COPY scripts/lib/common.sh /src/scripts/lib/common.sh
RUN bash -c 'source /src/scripts/lib/common.sh && ensure_packages "${BOARDHOOK_BUILD_PACKAGES[@]}"' \
 && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt /src/
COPY core /src/core
COPY io /src/io
COPY handler /src/handler
COPY worker /src/worker
COPY tools /src/tools
COPY web /src/web
COPY cmake /src/cmake
# Only what the images run: the context holds handler/, worker/ and tools/, not tests/ or bench/.
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DBOARDHOOK_TESTS=OFF -DBOARDHOOK_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/boardhook-handler /build/boardhook-worker /build/boardhook-queues


FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libfcgi0ldbl libhiredis0.14 libboost-json1.81.0 libboost-url1.81.0 libssl3 libspdlog1.10 libfmt9 \
 && rm -rf /var/lib/apt/lists/*
# Fixed ids, the same in every boardhook image, so that named volumes keep one owner.
RUN groupadd --system --gid 10001 boardhook \
 && useradd --system --uid 10001 --gid boardhook --home-dir /var/lib/boardhook \
            --shell /usr/sbin/nologin boardhook \
 && groupadd --system --gid 10002 boardhook-worker \
 && useradd --system --uid 10002 --gid boardhook-worker --home-dir /var/lib/boardhook-worker \
            --shell /usr/sbin/nologin boardhook-worker
COPY --from=build /build/boardhook-handler /build/boardhook-worker /build/boardhook-queues /usr/local/bin/


FROM runtime AS handler
# cgi-fcgi: the health check speaks FastCGI to the handler (deploy/docker/healthcheck-handler).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libfcgi-bin \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/docker/healthcheck-handler /usr/local/bin/healthcheck-handler
# The spool volume is mounted on /var/lib/boardhook; an empty named volume takes this owner.
RUN install -d -o boardhook -g boardhook -m 0750 /var/lib/boardhook /var/lib/boardhook/spool
ENV BOARDHOOK_LISTEN=0.0.0.0:9000 \
    BOARDHOOK_SPOOL_DIR=/var/lib/boardhook/spool \
    BOARDHOOK_VERIFY_TOKEN_FILE=/run/secrets/verify_token
USER boardhook
WORKDIR /var/lib/boardhook
EXPOSE 9000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/boardhook-handler"]
CMD ["--processes", "2"]


FROM runtime AS worker
# curl and CA certificates for commands that call an HTTP endpoint (deploy/worker.conf.example);
# anything else the commands need goes into an image built FROM this one.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN install -d -o boardhook-worker -g boardhook-worker -m 0750 /var/lib/boardhook-worker
USER boardhook-worker
WORKDIR /var/lib/boardhook-worker
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/boardhook-worker"]
CMD ["--config", "/etc/boardhook/worker.conf", "--concurrency", "4"]
