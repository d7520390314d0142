#!/bin/sh
# Container entry point. The services refuse a config others can read (it holds tokens), and a
# bind-mounted file keeps the host's mode (often 0644), so the mounted file is copied to
# /etc/agentlab/config.yaml with mode 0640 before the command runs.
set -eu
if [ -n "${AGENTLAB_CONFIG_SOURCE:-}" ]; then
  umask 027
  cp "$AGENTLAB_CONFIG_SOURCE" /etc/agentlab/config.yaml.new
  chmod 0640 /etc/agentlab/config.yaml.new
  mv /etc/agentlab/config.yaml.new /etc/agentlab/config.yaml
fi
exec "$@"
