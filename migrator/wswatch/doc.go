// Package wswatch keeps the latest working-set report of one guest: a
// Watcher connects to the unix socket of the guest's report port (QEMU
// serves it), asks for a report every second (the guest writes only when
// asked), reads the answers with wsreport.Scanner, checks each against the
// guest's RAM (wsreport.Validate) and keeps the latest with the time it
// arrived, for a migration to fetch those pages first. Quiet lets go of
// the port while a migration stops or moves the guest; Resume takes it
// again.
//
// A guest is not trusted: garbage and malformed reports are counted and
// logged at a bounded rate, a report holds at most wsreport.MaxRanges
// ranges, and the Watcher paces itself (MinInterval between results), so
// a guest that floods its port costs the agent a bounded share of a core
// and no more memory than one report.
package wswatch
