# shellcheck shell=bash
# Shared helpers for the testbed scripts. Source it; do not run it.
#
# Names and addresses follow the fixed testbed conventions: namespaces nfh-sw,
# nfh-client, nfh-hostA..; segment 198.18.0.0/24; run dir /run/nfhandoff
# (override with NFH_RUN_DIR).

NFH_RUN_DIR=${NFH_RUN_DIR:-/run/nfhandoff}

# prog is the calling script's name, for messages.
prog=$(basename "$0")

log() { printf '%s: %s\n' "$prog" "$*"; }
warn() { printf '%s: warning: %s\n' "$prog" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, apt-get)"
}

# require_cmd CMD...: fail with a hint when a command is missing.
require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "'$c' not found: run testbed/deps"
	done
}

# host_name I: 1 -> hostA, 2 -> hostB, ...
host_name() {
	local letters=ABCDEFGHIJKLMNOPQRSTUVWXYZ
	printf 'host%s' "${letters:$(($1 - 1)):1}"
}

# host_addr I: the host bridge address of host I (198.18.0.(10+I)).
host_addr() { printf '198.18.0.%d' "$((10 + $1))"; }

ns_exists() { [[ -e /run/netns/$1 ]]; }

# in_ns NS CMD...: run a command inside a network namespace.
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# our_namespaces: every network namespace named nfh-*, one per line.
our_namespaces() {
	ip netns list 2>/dev/null | awk '$1 ~ /^nfh-/ {print $1}'
}

# pid_alive PID: true when PID names a live process (not a zombie).
pid_alive() {
	local pid=$1 state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[[ -r /proc/$pid/stat ]] || return 1
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ $state != Z ]]
}

# quiet_ipv6 NS: links created in NS afterwards get no IPv6 (no DAD, router
# solicitations or MLD noise on our segment); lo keeps ::1. Best effort.
quiet_ipv6() {
	local ns=$1 k
	for k in accept_dad=0 dad_transmits=0 router_solicitations=0 accept_ra=0; do
		in_ns "$ns" sysctl -qw "net.ipv6.conf.default.$k" "net.ipv6.conf.all.$k" >/dev/null 2>&1 || true
	done
	in_ns "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}
