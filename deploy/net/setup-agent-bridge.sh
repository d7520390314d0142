#!/bin/sh
# Sets up the AgentLab agent bridge on a Proxmox host: the bridge with the host's address on it,
# IPv4 forwarding, and the nftables isolation ruleset (agentlab-nftables.nft beside this script).
# Idempotent: run it again after changing a setting, or after an upgrade. See docs/network.md.
#
#   setup-agent-bridge.sh [--runtime-only | --render]
#
#   (default)       apply now and persist: /etc/network/interfaces.d/agentlab, /etc/sysctl.d/,
#                   the rendered ruleset in /etc/agentlab/, included from /etc/nftables.conf
#   --runtime-only  apply now with `ip`, `sysctl -w` and `nft -f`; write no file
#   --render        print the ruleset with the settings applied, and change nothing
#
# Settings (environment):
#   AGENT_BRIDGE     bridge for sandboxes               (default vmbr1)
#   AGENT_HOST_CIDR  host address on it, with prefix    (default 10.77.0.1/16)
#   AGENT_SUBNET     the sandboxes' subnet              (default 10.77.0.0/16)
#   UPLINK           interface towards the internet     (default vmbr0)
#   GUEST_TCP_PORTS  host TCP ports guests may reach    (default "8844, 8846")
#   GUEST_UDP_PORTS  host UDP ports guests may reach    (default "53, 67")
set -eu

AGENT_BRIDGE="${AGENT_BRIDGE:-vmbr1}"
AGENT_HOST_CIDR="${AGENT_HOST_CIDR:-10.77.0.1/16}"
AGENT_SUBNET="${AGENT_SUBNET:-10.77.0.0/16}"
UPLINK="${UPLINK:-vmbr0}"
GUEST_TCP_PORTS="${GUEST_TCP_PORTS:-8844, 8846}"
GUEST_UDP_PORTS="${GUEST_UDP_PORTS:-53, 67}"
AGENT_HOST="${AGENT_HOST_CIDR%/*}"

HERE="$(cd "$(dirname "$0")" && pwd)"
TEMPLATE="$HERE/agentlab-nftables.nft"
RULESET_FILE=/etc/agentlab/agentlab-nftables.nft
INTERFACES_FILE=/etc/network/interfaces.d/agentlab
SYSCTL_FILE=/etc/sysctl.d/80-agentlab.conf
NFTABLES_CONF=/etc/nftables.conf

mode=persist
case "${1:-}" in
  "") ;;
  --runtime-only) mode=runtime ;;
  --render) mode=render ;;
  *)
    echo "usage: $0 [--runtime-only | --render]" >&2
    exit 2
    ;;
esac

# Names and values end up inside nft and ifupdown syntax: refuse anything that could break out.
check() {
  printf '%s' "$2" | grep -Eq "$3" || {
    echo "setup-agent-bridge: $1=$2 is not valid" >&2
    exit 2
  }
}
check AGENT_BRIDGE "$AGENT_BRIDGE" '^[A-Za-z0-9_.-]{1,15}$'
check UPLINK "$UPLINK" '^[A-Za-z0-9_.-]{1,15}$'
check AGENT_HOST_CIDR "$AGENT_HOST_CIDR" '^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$'
check AGENT_SUBNET "$AGENT_SUBNET" '^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$'
check GUEST_TCP_PORTS "$GUEST_TCP_PORTS" '^[0-9]{1,5}(, ?[0-9]{1,5})*$'
check GUEST_UDP_PORTS "$GUEST_UDP_PORTS" '^[0-9]{1,5}(, ?[0-9]{1,5})*$'

render() {
  sed \
    -e "s|^define agent_bridge = .*|define agent_bridge = \"$AGENT_BRIDGE\"|" \
    -e "s|^define uplink = .*|define uplink = \"$UPLINK\"|" \
    -e "s|^define agent_subnet = .*|define agent_subnet = $AGENT_SUBNET|" \
    -e "s|^define agent_host = .*|define agent_host = $AGENT_HOST|" \
    -e "s|^define guest_tcp_ports = .*|define guest_tcp_ports = { $GUEST_TCP_PORTS }|" \
    -e "s|^define guest_udp_ports = .*|define guest_udp_ports = { $GUEST_UDP_PORTS }|" \
    "$TEMPLATE"
}

if [ "$mode" = render ]; then
  render
  exit 0
fi

# --- the bridge, now ---------------------------------------------------------------------------
if ! ip link show dev "$AGENT_BRIDGE" >/dev/null 2>&1; then
  ip link add name "$AGENT_BRIDGE" type bridge
fi
if ! ip -4 addr show dev "$AGENT_BRIDGE" | grep -q "inet $AGENT_HOST_CIDR "; then
  ip addr add "$AGENT_HOST_CIDR" dev "$AGENT_BRIDGE"
fi
ip link set dev "$AGENT_BRIDGE" up

# --- routing: forwarding on, strict reverse-path filtering on the bridge (anti-spoofing) --------
sysctl -q -w net.ipv4.ip_forward=1
sysctl -q -w "net.ipv4.conf.$AGENT_BRIDGE.rp_filter=1"

# --- the ruleset, now: one atomic transaction replacing only table inet agentlab ---------------
rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
render >"$rendered"
nft -f "$rendered"

[ "$mode" = runtime ] && exit 0

# --- persistence ------------------------------------------------------------------------------
# The bridge for ifupdown2 (Proxmox's network stack); it shows in the GUI like any vmbr.
if [ ! -e "$INTERFACES_FILE" ] && ! grep -qs "iface $AGENT_BRIDGE " /etc/network/interfaces; then
  mkdir -p "$(dirname "$INTERFACES_FILE")"
  cat >"$INTERFACES_FILE" <<IFACE
# AgentLab agent bridge (written by setup-agent-bridge.sh). Sandboxes only: no physical port.
auto $AGENT_BRIDGE
iface $AGENT_BRIDGE inet static
	address $AGENT_HOST_CIDR
	bridge-ports none
	bridge-stp off
	bridge-fd 0
IFACE
fi
if ! grep -qs '^source /etc/network/interfaces.d/\*' /etc/network/interfaces; then
  echo "setup-agent-bridge: /etc/network/interfaces does not source interfaces.d; add: source /etc/network/interfaces.d/*" >&2
fi

cat >"$SYSCTL_FILE" <<SYSCTL
# AgentLab (setup-agent-bridge.sh): sandboxes reach the internet through this host.
net.ipv4.ip_forward = 1
net.ipv4.conf.$AGENT_BRIDGE.rp_filter = 1
SYSCTL

mkdir -p "$(dirname "$RULESET_FILE")"
install -m 0644 "$rendered" "$RULESET_FILE"
# Loaded at boot by Debian's nftables.service, after whatever the operator's file does first.
if [ -f "$NFTABLES_CONF" ] && ! grep -qs "include \"$RULESET_FILE\"" "$NFTABLES_CONF"; then
  printf '\n# AgentLab guest isolation (setup-agent-bridge.sh)\ninclude "%s"\n' "$RULESET_FILE" >>"$NFTABLES_CONF"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl enable nftables.service >/dev/null 2>&1 || true
fi
echo "agent bridge $AGENT_BRIDGE ($AGENT_HOST_CIDR) ready; ruleset in $RULESET_FILE"
