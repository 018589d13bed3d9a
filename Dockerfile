# qemu-thread-exporter image: the single executable of `npm run dist` (Node embedded) on distroless. How to run it:
# README, "Deploy" (--pid=host and exactly two capabilities).
#   docker build --build-arg REVISION=$(git rev-parse --short HEAD) -t qemu-thread-exporter .

# Build the executable from the sources, with this stage's Node; strip is binutils', setcap (below) libcap2-bin's.
FROM docker.io/library/node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# No install script is needed: esbuild's binary comes as an optional dependency, its postinstall only checks it.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src/ src/
COPY build/ build/
ARG REVISION=unknown
RUN REVISION="$REVISION" node --import tsx build/dist.ts --executable-only

# glibc, libgcc and libstdc++, which the executable links, and nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12
ARG REVISION=unknown
LABEL org.opencontainers.image.title="qemu-thread-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the threads, thread pools and disks of every QEMU/KVM virtual machine on a host" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.source="https://github.com/qemu-thread-exporter/qemu-thread-exporter" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12"

COPY --from=build /src/dist/qemu-thread-exporter-linux-x64 /usr/local/bin/qemu-thread-exporter
# Docker, containerd and CRI-O set no ambient capabilities, so a non-root user's process loses what --cap-add or
# the pod's securityContext grants when it starts its program; only file capabilities on that program raise them.
# So the entrypoint is a copy of setpriv holding the two as file capabilities (permitted, not effective: where they
# were not granted, the kernel still runs it, and it says so). It makes them ambient, and the exporter inherits
# them. This works under no_new_privs too (allowPrivilegeEscalation: false) where the runtime fills the permitted
# set, as containerd and CRI-O do. setcap runs here because COPY --from drops file capabilities in BuildKit; it
# runs from the build stage, mounted for this one step, through that stage's loader (this one has no shell).
COPY --from=build /usr/bin/setpriv /usr/local/libexec/qemu-thread-exporter/setpriv
COPY --from=build /usr/lib/x86_64-linux-gnu/libcap-ng.so.0 /usr/lib/x86_64-linux-gnu/libcap-ng.so.0
RUN --mount=type=bind,from=build,source=/,target=/mnt/build \
    ["/mnt/build/lib64/ld-linux-x86-64.so.2", "--library-path", "/mnt/build/usr/lib/x86_64-linux-gnu", \
     "/mnt/build/usr/sbin/setcap", "cap_dac_read_search,cap_sys_ptrace=p", \
     "/usr/local/libexec/qemu-thread-exporter/setpriv"]

USER 10077:10077
EXPOSE 10077
# Assumes the default --web.listen-address (:10077). No shell or curl here: the exporter's own explain command
# asks the running one for its report, and fails unless it answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/qemu-thread-exporter", "explain", "--url=http://127.0.0.1:10077"]
ENTRYPOINT ["/usr/local/libexec/qemu-thread-exporter/setpriv", \
            "--inh-caps=+dac_read_search,+sys_ptrace", "--ambient-caps=+dac_read_search,+sys_ptrace", "--", \
            "/usr/local/bin/qemu-thread-exporter"]
