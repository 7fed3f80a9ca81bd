package cli

// migrateLong is the help of "netctl migrate".
const migrateLong = `Move guest VM from the agent chosen with --host (the source) to the host
named by --to, while it keeps running. The source agent dials the
destination agent over QUIC (mutual TLS, UDP 7443), the destination starts
an empty QEMU, and the guest's memory is copied across in passes while the
guest runs; the guest pauses only for the final switchover (the QEMU
downtime). Afterwards the guest runs on the destination and is gone from the
source. The source agent needs the destination in its peers file (the
testbed sets this up).

Progress. While it runs netctl asks the source agent about five times a
second and shows what "virsh domjobinfo" shows: percent done, RAM
transferred of total, transfer rate, the guest's dirty rate (how fast it
rewrites memory), the pass (QEMU's dirty-sync count), QEMU's expected
downtime and an ETA, with the state (setup, active, postcopy, switchover,
then completed, failed or cancelled). On a terminal that is one line
redrawn in place; otherwise a line every second and on every state change.
Every policy decision (bandwidth raised, post-copy started, CPU throttled,
abort) is printed as a line when it is taken. Once the traffic hand-off has
begun the progress also shows it ("hand-off: buffered 31 held 4 forwarded 2
dropped 0": packets the source buffered while the guest was stopped, held
at the destination until the buffered ones were replayed, stragglers
forwarded from the source, and frames dropped). At the end comes a summary:
state, total time, QEMU downtime, setup time, RAM and wire bytes, passes,
post-copy yes/no, throttle, the hand-off at both ends (dropped by reason,
queue high-water mark, time in each mode) and the list of decisions.

Policy. The first pass runs at --initial-bandwidth; later passes raise the
cap to the guest's dirty rate plus a margin, never above --bandwidth. QEMU
switches over when it can do so within --downtime. When pre-copy does not
converge, --postcopy auto switches to post-copy (the guest runs on the
destination and fetches missing pages from the source), never throttles
the guest's CPU instead, always starts post-copy after the first pass.
--multifd N sends RAM over N parallel streams (default 0 when post-copy may
be used, 2 with --postcopy never; the two are not combined). A migration
still running after --completion-timeout is ended by --timeout-action:
abort (cancel; the guest stays on the source) or postcopy (force it).

Rates (--bandwidth, --initial-bandwidth) are bytes per second: a number
with an optional unit K, M, G or T, powers of 1024 as in QEMU, optionally
followed by "i", "B" and "/s": 1G = 1GiB/s = 1073741824 bytes/s; 512MiB/s,
100M and 1.5G work too.

Cancelling. Ctrl-C asks the agent to cancel, waits (up to 30s) for the
migration to end, prints how it ended and exits 1; the guest keeps running
on the source. "netctl migrate --cancel ID" cancels a migration started
elsewhere ("netctl migrations" shows IDs). --detach starts the migration,
prints its ID and returns at once.

Verification (--verify). netctl sends a TWAMP-light test stream
(--verify-rate packets/s of --verify-size bytes) to the vnf's reflector (UDP
862 at the guest's address) from --verify-before before the migration
starts until --verify-after after it ends (if the reflector does not answer
during --verify-before, netctl stops without migrating). Replies still on
their way when sending stops count as received, however late: netctl waits
until every packet is answered, until no reply has come for 500ms, or for
30s at most (after a rollback the hand-off returns the packets it held at a
bounded rate, for seconds). Then it reports:
packets sent, received, lost, duplicated and reordered; the largest gap in
the traffic and the migration phase it fell in; round-trip latency p50 and
p99; the VNF's recovery: from the guest's resume at the destination until
it reflected at its pre-migration rate again (90% of it in every 500ms
window for a second: a dip after that is not the move's; in post-copy,
first touches of pages still at the source slow it); whether the reflector's own sequence numbers continued
without a jump (the same guest memory, not a restarted vnf); and the hand-off's
account (buffered, flushed, held, forwarded, dropped by reason, GARPs,
queue high-water mark, time in BUFFER). The verdict is PASS when no more
than --max-lost packets were lost, the hand-off dropped no more than
--max-lost frames (any frame for the guest counts, not only test packets),
and, if --max-gap is given, no gap was longer. --max-lost defaults to 0, the
project's target (a migration should lose nothing); -1 means no limit. The result is attached to the
migration record on the source agent ("netctl migrations ID" shows it) and
--report DIR writes report.json (migration, verdict, every packet) and a
timeline picture of arrivals and latency with the phases marked.

The test packets must reach the guest. By default, when the testbed's
client namespace nfh-client exists and netctl does not already run inside
one of the testbed's namespaces, netctl sends from nfh-client (198.18.0.2, as a client of the VNF
would) and says so; --verify-netns NAME picks another namespace and
"--verify-netns -" sends from where netctl runs. Sending from a namespace
needs root.

Exit status: 0 when the migration completed and, with --verify, the verdict
passed; 1 when it failed or was cancelled (the reason is printed) or the
verdict failed (the reasons are printed); 2 on a usage error. With -o json
stdout holds only the final migration record (api.Migration, with the
verification embedded under "verification"); progress goes to stderr.`
