# AgentLab staging image: one image for control, runner, artifacts and the Proxmox simulator
# (deploy/compose.yaml, docs/staging.md). Production installs use the .deb (docs/install.md).
FROM node:20-bookworm-slim AS build
# A toolchain only matters when better-sqlite3 has no prebuilt binary for this platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
ARG AGENTLAB_VERSION=staging
ENV AGENTLAB_VERSION=${AGENTLAB_VERSION}
# `npm ci` already runs the root prepare step (the build); the explicit build states the intent.
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# The services chown their sockets to group agentlab; they run as its non-root user.
RUN groupadd --system agentlab \
  && useradd --system --gid agentlab --home-dir /var/lib/agentlab --shell /usr/sbin/nologin agentlab \
  && mkdir -p /etc/agentlab/profiles /etc/agentlab/secrets /run/agentlab /var/lib/agentlab /var/lib/agentlab-artifacts \
  && chown -R agentlab:agentlab /etc/agentlab /run/agentlab /var/lib/agentlab /var/lib/agentlab-artifacts \
  && chmod 0750 /etc/agentlab/secrets /run/agentlab /var/lib/agentlab /var/lib/agentlab-artifacts
COPY --from=build /app /app
COPY deploy/profiles/ /etc/agentlab/profiles/
# The same command names as the packaged install (/usr/bin wrappers there).
RUN for pair in agentlab:clients/cli agentlabd:services/agentlabd agentlab-control:services/control \
      agentlab-runner:services/runner agentlab-artifacts:services/artifacts pve-sim:tools/pve-sim; do \
      name="${pair%%:*}"; dir="${pair#*:}"; \
      printf '#!/bin/sh\nexec node /app/%s/bin/%s.mjs "$@"\n' "$dir" "$name" > "/usr/local/bin/$name"; \
      chmod 0755 "/usr/local/bin/$name"; \
    done
USER agentlab
WORKDIR /app
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["agentlabd", "--config", "/etc/agentlab/config.yaml"]
# Control's socket by default; compose overrides the probe per service.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/clients/cli/bin/agentlab.mjs", "--socket", "/run/agentlab/agentlabd.sock", "health"]
