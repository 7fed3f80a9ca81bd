// Package verify measures what a VNF's traffic sees during a live
// migration: a TWAMP-light Session-Sender (Sender) paces test packets to the
// guest's reflector (UDP 862) and records every reply; Analyze turns the
// per-packet samples and the migration's phases into a Report (loss,
// duplicates, reordering, the largest gap and the phase it fell in, RTT
// percentiles, reflector sequence continuity, a pass/fail verdict); and
// WriteReport leaves report.json and a timeline picture (timeline.png,
// timeline.svg) for the operator.
package verify
