// Package cli implements netctl, the operator's command line for nfhandoff.
//
// netctl talks to the migratord agents of a testbed over their unix-socket
// HTTP/JSON API (package migrator/api); it never imports the engine. The
// entry point is Run, called by cmd/netctl with the process arguments; each
// subcommand lives in its own file as a cobra command plus a runX function:
//
//	hosts.go      netctl hosts              agents found under $NFH_RUN_DIR
//	health.go     netctl health             one agent's Health
//	vm_start.go   netctl vm start NAME ...  start a guest, wait for its vnf
//	vm_list.go    netctl vm list            the agent's guests
//	vm_status.go  netctl vm status NAME     record, QEMU and vnf status
//	vm_stop.go    netctl vm stop NAME       stop a guest
//	migrate.go    netctl migrate VM --to H  live migration: request, flags, outcome
//	migrations.go netctl migrations [ID]    stored migration records
//
// A migration is watched by migrate_watch.go (polling, state and decision
// lines) drawing with migrate_progress.go (virsh domjobinfo fields, a bar on
// a terminal); migrate_summary.go prints the final record; migrate_cancel.go
// handles --cancel and Ctrl-C; migrate_verify.go and verify_report.go run
// the --verify TWAMP-light session (package netctl/verify) around it.
//
// Shared machinery: target.go resolves --host (or NFH_HOST) to an agent
// socket and turns transport failures into messages that say what to do;
// output.go prints tables (text/tabwriter) or exactly one JSON document
// (the api types) with -o json; progress.go draws a one-line progress
// display on a terminal; size.go reads and prints rates (512MiB/s); exit.go
// defines ExitError, which carries the exit status (1 for failures, 2 for
// usage errors).
package cli
