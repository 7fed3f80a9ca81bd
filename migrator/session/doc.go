// Package session runs the two ends of one live migration over an agent-to-
// agent connection (DESIGN "One migration, step by step", steps 1-5 and 8-9).
//
// The source (RunSource) dials the destination, sends a Hello carrying the
// VM spec and the request on a control stream, waits for Ready, sets QEMU's
// migration capabilities and parameters, begins the hand-off towards the
// destination's address (Handoff.Begin), and points QEMU's migrate at a
// unix socket it serves: every connection QEMU opens there becomes one
// KindQEMU stream, in accept order (0 = main channel). A policy loop
// (migrator/policy) watches query-migrate and steers bandwidth, post-copy
// and throttling. At pre-switchover the Handoff buffers the VM's packets,
// then migrate-continue; when QEMU reports completed (or post-copy-active)
// the source sends Commit and, on the destination's Running, hands the
// traffic off at once (Handoff.Resumed on a KindFlush stream, in the
// background: a post-copy goes on meanwhile); once QEMU has completed it
// quits its QEMU, waits for the destination's HandoffDone and records the
// migration with both ends' hand-off accounts. On a failure before the
// guest runs at the destination the source guest is resumed first, then
// the hand-off rolls back (buffered packets go back into its tap).
//
// The destination (Server, one per accepted connection) answers a Hello by
// holding the VM's packets (Handoff.Prepare), starting QEMU with
// "-incoming defer -S", setting the same capabilities and
// migrate-incoming on a unix socket; it connects the QEMU streams to that
// socket strictly in channel order. When the source sends Commit it
// issues cont at once (QEMU, still loading, starts the guest itself when
// its load is done; one that stays paused gets cont again once ready),
// then announces the guest (Handoff.Started) and answers Running; it injects the flush
// (Handoff.Flushed) right away, while a post-copy completes, and once both
// are done sends its hand-off account (HandoffDone).
//
// A post-copy whose stream breaks (the path lost, an agent restarted) is
// resumed, never abandoned: both QEMUs pause; the source dials again and
// sends Recover on a new control stream; the destination runs
// migrate-recover out of band (its main thread may be blocked on a missing
// page) and answers RecoverReady; the source's migrate with resume sends
// one channel on the new connection, and the session goes on there
// (source_recover.go, dest_recover.go). Meanwhile the destination's
// hand-off holds the stuck guest's traffic (handoff.Pauser). An agent that
// restarted takes its part over from the stored record
// (Server.ResumePostcopy, FinishPostcopy).
//
// Exactly once: the source never resumes its guest after Commit unless the
// destination positively answered Abort (or, asked later with a Status
// request, says it has no guest); the destination never starts its guest
// without Commit. After post-copy has started there is no way back: the
// source never resumes.
//
// Each end's progress is a typed phase moving forward only (sourcePhase:
// setup, migrating, switchover, committed, running; destPhase: hello,
// admitted, prepared, committed, running or failed), its transitions in
// one table; the QMP commands it runs are migrator/vm/qmpcmd's.
//
// The control messages (Hello, Ready, Commit, Running, Abort, the status
// request and reply, HandoffDone, Recover, RecoverReady) are
// migrator/wire's: JSON frames decoded strictly, each decoder with a fuzz
// target there.
package session
