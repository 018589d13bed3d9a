# qemu-thread-exporter image. How to run it: README, "Deploy" (--pid=host and exactly two capabilities).
#   docker build --build-arg REVISION=$(git rev-parse --short HEAD) -t qemu-thread-exporter .

# Compile the TypeScript, then keep only the runtime dependencies.
FROM docker.io/library/node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No dependency needs an install script to run the exporter (esbuild's, for tsx, only serves the tests).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ src/
ARG REVISION=unknown
RUN npx tsc -p tsconfig.build.json \
 && printf '%s\n' "$REVISION" > REVISION \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# setcap, for the final stage only.
FROM docker.io/library/node:24-bookworm-slim AS setcap
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

FROM docker.io/library/node:24-bookworm-slim
ARG REVISION=unknown
LABEL org.opencontainers.image.title="qemu-thread-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the threads, thread pools and disks of every QEMU/KVM virtual machine on a host" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.source="https://github.com/qemu-thread-exporter/qemu-thread-exporter" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"

WORKDIR /app
COPY --from=build /src/package.json /src/REVISION ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/src/ dist/src/

# Docker, containerd and CRI-O set no ambient capabilities, so a non-root user's process loses what --cap-add or
# the pod's securityContext grants when it starts its program; only file capabilities on that program raise them.
# So the entrypoint is a copy of setpriv holding the two as file capabilities (permitted, not effective: where they
# were not granted, the kernel still runs it, and it says so). It makes them ambient, and node inherits them. This
# works under no_new_privs too (allowPrivilegeEscalation: false) where the runtime fills the permitted set, as
# containerd and CRI-O do. setcap runs here because COPY --from drops file capabilities in BuildKit.
COPY --from=setcap /usr/sbin/setcap /usr/local/sbin/setcap
RUN install -D -m 0755 /usr/bin/setpriv /usr/local/libexec/qemu-thread-exporter/setpriv \
 && setcap cap_dac_read_search,cap_sys_ptrace=p /usr/local/libexec/qemu-thread-exporter/setpriv \
 && rm /usr/local/sbin/setcap \
 && groupadd --gid 10077 qemu-thread-exporter \
 && useradd --no-log-init --uid 10077 --gid 10077 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin qemu-thread-exporter

USER 10077:10077
EXPOSE 10077
# Assumes the default --web.listen-address (:10077); node has fetch built in, the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:10077/-/healthy').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/local/libexec/qemu-thread-exporter/setpriv", \
            "--inh-caps=+dac_read_search,+sys_ptrace", "--ambient-caps=+dac_read_search,+sys_ptrace", "--", \
            "/usr/local/bin/node", "--max-semi-space-size=1", "--optimize-for-size", "/app/dist/src/main.js"]
