# shellcheck shell=bash
# libvirt helpers for testbed/up --libvirt and testbed/down. Source it after
# lib.sh; do not run it.
#
# One libvirtd per host namespace. Debian 12's libvirt 9.0 ships only the
# monolithic libvirtd (libvirt-daemon: libvirtd, virtlogd, virtlockd and the
# driver modules); its build has no modular daemons (no virtqemud,
# virtproxyd), so there is nothing to choose. libvirtd also serves TLS
# itself (--listen), where the modular layout needs virtproxyd in front of
# virtqemud.
#
# A root ("privileged") libvirtd has fixed paths: its configuration in
# /etc/libvirt (qemu.conf cannot be moved), state in /run/libvirt and
# /var/lib/libvirt, logs in /var/log/libvirt, the capabilities cache in
# /var/cache/libvirt, a pid file /run/libvirtd.pid. Two daemons sharing them
# would collide (a domain's files are named after the domain, which is the
# same on both ends of a migration). So each daemon runs in the private
# mount namespace `ip netns exec` gives it, with its host's own directories
# bind-mounted over those five paths, and -p for its pid file; the mounts
# die with the daemon and its QEMUs. Its sockets are in its host's dir,
# reachable from the root namespace:
#   $NFH_RUN_DIR/<host>/libvirt/libvirt-sock   (read-write, no auth, 0700)
#   URI qemu+unix:///system?socket=<that path>
#
# Each daemon also listens for libvirt's own TLS on its host's address only
# (TCP 16514 in its netns, URI qemu+tls://<host addr>/system), with the
# testbed CA's certificate of its host ($NFH_RUN_DIR/pki, netctl certs:
# server and client usages, the host's address as SAN IP). A sixth bind
# mount puts them at libvirt's default paths for root, /etc/pki (absent on
# Debian), so that the daemon finds them both as a TLS server and as the
# client a peer-to-peer migration makes of it (virsh migrate --p2p
# --desturi qemu+tls://<other host addr>/system): no pkipath in any URI.
# Only certificates the testbed CA signed are let in. The same files in
# /etc/pki/qemu serve QEMU's own TLS for a migration's stream (virsh
# migrate --tls).

# libvirt_mounts: "subdir:path" pairs, a host's libvirt/<subdir> over <path>.
libvirt_mounts=(etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt pki:/etc/pki)

# libvirt_mark is left inside a mount point that testbed/up had to create
# (hidden under the bind mount), so that testbed/down removes only those.
libvirt_mark=.nfhandoff-mountpoint

libvirt_dir() { printf '%s/%s/libvirt' "$NFH_RUN_DIR" "$1"; }
libvirt_socket() { printf '%s/libvirt-sock' "$(libvirt_dir "$1")"; }
libvirt_uri() { printf 'qemu+unix:///system?socket=%s' "$(libvirt_socket "$1")"; }
# libvirt_tls_uri ADDR: the URI of the daemon listening for TLS on ADDR.
libvirt_tls_uri() { printf 'qemu+tls://%s/system' "$1"; }

# ensure_libvirt_mountpoints: the paths exist (a bind mount needs its
# target); the ones made here are marked.
ensure_libvirt_mountpoints() {
	local m path
	for m in "${libvirt_mounts[@]}"; do
		path=${m#*:}
		[[ -d $path ]] && continue
		mkdir -p "$path"
		: >"$path/$libvirt_mark"
	done
}

# remove_libvirt_mountpoints: testbed/down's undo of the above: a mount
# point that holds only the mark goes; anything else stays. Uses
# testbed/down's say.
remove_libvirt_mountpoints() {
	local m path
	for m in "${libvirt_mounts[@]}"; do
		path=${m#*:}
		[[ -f $path/$libvirt_mark ]] || continue
		if mountpoint -q "$path"; then
			warn "$path is mounted in the root namespace: left alone"
			continue
		fi
		rm -f "$path/$libvirt_mark"
		if rmdir "$path" 2>/dev/null; then
			say "removed mount point $path"
		else
			warn "$path is not empty: left alone"
		fi
	done
}

# write_libvirt_pki HOST: HOST's certificate and key from the testbed CA
# ($pki, testbed/up's ensure_pki), and the CA, under its libvirt/pki (its
# /etc/pki) at the paths libvirt reads as a root server and client.
write_libvirt_pki() {
	local h=$1 d
	d=$(libvirt_dir "$h")/pki
	[[ -f $pki/ca.pem && -f $pki/$h.pem && -f $pki/$h-key.pem ]] || die "$h: no certificate in $pki (ensure_pki)"
	mkdir -p "$d/CA" "$d/libvirt/private"
	chmod 0700 "$d/libvirt/private"
	install -m 0644 "$pki/ca.pem" "$d/CA/cacert.pem"
	install -m 0644 "$pki/$h.pem" "$d/libvirt/servercert.pem"
	install -m 0644 "$pki/$h.pem" "$d/libvirt/clientcert.pem"
	install -m 0600 "$pki/$h-key.pem" "$d/libvirt/private/serverkey.pem"
	install -m 0600 "$pki/$h-key.pem" "$d/libvirt/private/clientkey.pem"
	# QEMU's own TLS for the migration stream (virsh migrate --tls):
	# qemu.conf's migrate_tls_x509_cert_dir, the files QEMU's
	# tls-creds-x509 reads, the destination's QEMU as the server, the
	# source's as the client, each checking the other against the CA.
	mkdir -p "$d/qemu"
	chmod 0700 "$d/qemu"
	install -m 0644 "$pki/ca.pem" "$d/qemu/ca-cert.pem"
	install -m 0644 "$pki/$h.pem" "$d/qemu/server-cert.pem"
	install -m 0644 "$pki/$h.pem" "$d/qemu/client-cert.pem"
	install -m 0600 "$pki/$h-key.pem" "$d/qemu/server-key.pem"
	install -m 0600 "$pki/$h-key.pem" "$d/qemu/client-key.pem"
}

# write_libvirt_config HOST ADDR: the daemon's libvirtd.conf and qemu.conf
# (its /etc/libvirt) and a host UUID of its own, kept across restarts; it
# listens for TLS on ADDR.
write_libvirt_config() {
	local h=$1 addr=$2 dir uuid m
	dir=$(libvirt_dir "$h")
	for m in "${libvirt_mounts[@]}"; do
		mkdir -p "$dir/${m%%:*}"
	done
	chmod 0700 "$dir"
	# Migration refuses a destination with the source's host UUID; left
	# to itself libvirtd takes it from SMBIOS or /etc/machine-id, the
	# same for every namespace on this machine.
	[[ -s $dir/host-uuid ]] || cat /proc/sys/kernel/random/uuid >"$dir/host-uuid"
	uuid=$(<"$dir/host-uuid")
	cat >"$dir/etc/libvirtd.conf" <<EOF
# testbed/up --libvirt: the libvirtd of $h (netns nfh-$h).
# Its UNIX sockets, and TLS (libvirtd --listen) on $addr only, never
# plain TCP. Certificates at libvirt's defaults under /etc/pki (its
# libvirt/pki); a client must present one the testbed CA signed.
listen_tls = 1
listen_tcp = 0
listen_addr = "$addr"
ca_file = "/etc/pki/CA/cacert.pem"
cert_file = "/etc/pki/libvirt/servercert.pem"
key_file = "/etc/pki/libvirt/private/serverkey.pem"
tls_no_verify_certificate = 0
auth_tls = "none"
unix_sock_dir = "$dir"
unix_sock_rw_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$uuid"
# stderr goes to $dir/libvirtd.log (no journald here).
log_outputs = "3:stderr"
EOF
	cat >"$dir/etc/qemu.conf" <<EOF
# testbed/up --libvirt: the qemu driver of $h's libvirtd.
# QEMU as root, like migratord's guests: it opens the host's taps and needs
# no file relabelled. No AppArmor or SELinux on the testbed.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
# No cgroup placement (no systemd or machined here) and no private /dev
# namespace per guest: neither is needed on the testbed.
cgroup_controllers = [ ]
namespaces = [ ]
# QEMU's stdout and stderr to a file ($dir/log/qemu/<domain>.log), not via
# virtlogd, which would be one more daemon to run and stop.
stdio_handler = "file"
# QEMU's TLS for a migration's stream when asked (virsh migrate --tls;
# QEMU's stream is plain otherwise): the host's certificate from the
# testbed CA under /etc/pki/qemu (its libvirt/pki/qemu), the peer's
# checked. Said here although both are libvirt's defaults for root.
migrate_tls_x509_cert_dir = "/etc/pki/qemu"
migrate_tls_x509_verify = 1
EOF
	# An empty networks dir: no "default" NAT network (virbr0,
	# 192.168.122.0/24) is defined or autostarted; Debian ships its XML
	# only in libvirt-daemon-config-network, which deps never installs.
	mkdir -p "$dir/etc/qemu/networks/autostart"
}

# write_libvirt_users HOST: copies of /etc/passwd and /etc/group with the
# user and group libvirt-qemu added, bound over the originals for HOST's
# libvirtd only. Debian builds the qemu driver with libvirt-qemu as its
# default user and resolves that name before it reads qemu.conf (user =
# "root" does not help): without the user the driver fails to start
# ("Failed to parse user 'libvirt-qemu'"). libvirt-daemon-system would
# create it system-wide; the testbed leaves the machine's users alone.
write_libvirt_users() {
	local dir
	dir=$(libvirt_dir "$1")
	cp /etc/passwd "$dir/passwd"
	cp /etc/group "$dir/group"
	getent passwd libvirt-qemu >/dev/null ||
		echo 'libvirt-qemu:x:64055:64055:testbed libvirtd (name only; QEMU runs as root):/nonexistent:/usr/sbin/nologin' >>"$dir/passwd"
	getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:' >>"$dir/group"
}

# libvirtd_running HOST: print the pid of HOST's libvirtd when it runs.
libvirtd_running() {
	local f pid
	f=$(libvirt_dir "$1")/libvirtd.pid
	[[ -f $f ]] || return 1
	pid=$(<"$f")
	pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == libvirtd ]] || return 1
	echo "$pid"
}

# start_libvirtd HOST ADDR: start HOST's libvirtd in nfh-HOST unless it
# runs, with TLS on ADDR.
start_libvirtd() {
	local h=$1 addr=$2 dir pid binds=() m
	dir=$(libvirt_dir "$h")
	if pid=$(libvirtd_running "$h"); then
		log "$h: libvirtd already running (pid $pid)"
		return 0
	fi
	write_libvirt_config "$h" "$addr"
	write_libvirt_pki "$h"
	write_libvirt_users "$h"
	rm -f "$dir/libvirtd.pid" "$dir"/libvirt-sock* "$dir"/libvirt-admin-sock
	for m in "${libvirt_mounts[@]}"; do
		binds+=("$dir/${m%%:*}" "${m#*:}")
	done
	binds+=("$dir/passwd" /etc/passwd "$dir/group" /etc/group)
	# The shell records its pid (libvirtd's once it execs; libvirtd
	# rewrites the same number into its -p file), binds the host's dirs
	# in the mount namespace ip netns exec made for it, then becomes
	# libvirtd, in the foreground.
	# shellcheck disable=SC2016 # $$, $1 and $@ belong to the inner shell
	ip netns exec "nfh-$h" setsid sh -c '
		set -e
		pidfile=$1 conf=$2
		shift 2
		echo $$ >"$pidfile"
		while [ "$1" != -- ]; do
			mount --bind "$1" "$2"
			shift 2
		done
		exec libvirtd --listen -f "$conf" -p "$pidfile"' sh "$dir/libvirtd.pid" "$dir/etc/libvirtd.conf" "${binds[@]}" -- \
		</dev/null >>"$dir/libvirtd.log" 2>&1 &
	libvirt_started+=("$h")
}

# libvirtd_ready HOST: HOST's libvirtd answers on its socket.
libvirtd_ready() {
	[[ -S $(libvirt_socket "$1") ]] || return 1
	virsh -q -c "$(libvirt_uri "$1")" uri >/dev/null 2>&1
}

# wait_libvirtd HOST...: wait until every one answers, or fail with its log.
wait_libvirtd() {
	local h pid deadline=$((SECONDS + 30)) pending=("$@") next dir
	while ((${#pending[@]})); do
		next=()
		for h in "${pending[@]}"; do
			dir=$(libvirt_dir "$h")
			pid=$(cat "$dir/libvirtd.pid" 2>/dev/null || true)
			if libvirtd_ready "$h"; then
				log "$h: libvirtd ready (pid $pid, $(libvirt_uri "$h"))"
				continue
			fi
			if [[ -n $pid ]] && ! pid_alive "$pid"; then
				tail -n 20 "$dir/libvirtd.log" >&2 || true
				die "$h: libvirtd (pid $pid) exited; log: $dir/libvirtd.log"
			fi
			next+=("$h")
		done
		((${#next[@]})) || break
		if ((SECONDS >= deadline)); then
			die "libvirtd not answering after 30s on: ${next[*]} (logs: $NFH_RUN_DIR/<host>/libvirt/libvirtd.log)"
		fi
		pending=("${next[@]}")
		sleep 0.2
	done
}
