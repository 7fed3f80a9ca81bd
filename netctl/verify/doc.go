// Package verify measures what a VNF's traffic sees during a live
// migration: a TWAMP-light Session-Sender (Sender) paces test packets to the
// guest's reflector (UDP 862) and records every reply; Analyze turns the
// per-packet samples and the migration's phases into a Report (loss,
// duplicates, reordering, the largest gap and the phase it fell in, RTT
// percentiles, reflector sequence continuity, a pass/fail verdict); and
// WriteReport leaves report.json and a timeline picture (timeline.png,
// timeline.svg) for the operator.
//
// The timeline (1400x985, drawn with gonum.org/v1/plot) has a header (the
// verdict in green or red; the migration with QEMU's downtime and the
// guest's pause; the test traffic; the hand-off) and three plots over
// seconds since the first test packet, each with the migration's phases
// shaded behind it, the largest gap in red between red edges and, when the
// source buffered, a brown BUFFER strip along the bottom under the
// switchover. The top plot shows the RTT of every reply at its send time,
// lost packets as red marks on the x axis, replies above its range in
// orange on the top edge, the phases' names and lengths above it and a
// legend; the middle one replies per bin by arrival time with the losses
// stacked in red, the sending rate dashed and the zoom window outlined;
// the bottom one the RTT plot again over the zoom window (the largest gap,
// else the switchover).
//
// What differs from the hand-drawn picture before it: text is Liberation
// Sans (gonum/plot's font) instead of the Go fonts, and the SVG names it
// with Arial and Helvetica (same widths) as fallbacks instead of embedding
// it; alpha colours in the SVG are written as a colour plus fill-opacity,
// a channel off by one at most; the data areas are a few pixels narrower
// where an x tick label at the edge must stay inside the picture; the
// largest gap is outlined on all four sides (before: its two edges).
package verify
