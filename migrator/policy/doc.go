// Package policy decides, from QEMU's own progress reports, how a running
// pre-copy migration is steered: the bandwidth cap per pass (start low, rise
// to the guest's dirty rate plus a margin, up to the cap), when pre-copy is
// not converging, and what to do then (post-copy, or throttling the guest's
// CPU through QEMU's auto-converge), and what happens at the completion
// timeout. Decisions are pure (Policy.Observe over Samples); Apply turns one
// into QMP commands.
//
// CPU throttling in QEMU 7.2 (migration/ram.c): capabilities cannot change
// while a migration runs, so auto-converge is enabled up front when the
// policy may throttle. QEMU then checks, at a dirty-bitmap sync at least one
// second after the previous check (migration_bitmap_sync), whether the bytes
// dirtied in the period exceed throttle-trigger-threshold percent of the
// bytes sent (migration_trigger_throttle); the second time that holds it
// calls mig_throttle_guest_down, which starts at cpu-throttle-initial or adds
// cpu-throttle-increment, never above max-cpu-throttle. The threshold cannot
// switch the check off (1..100), and max-cpu-throttle must be at least
// cpu-throttle-initial, so Parameters keeps QEMU's own throttling at 1% until
// the policy decides; Apply then sets initial = increment = max = the wanted
// percentage and the threshold to 1, so QEMU throttles to exactly that
// percentage within the next two such syncs.
package policy
