// Package qmpx is a small layer over go-qemu's QMP SocketMonitor that lets
// several users share one QMP connection: Execute runs raw commands (with a
// context), and Events hands every subscriber its own copy of the
// asynchronous event stream (MIGRATION, MIGRATION_PASS, STOP, RESUME, ...).
//
// QEMU accepts one QMP client per socket, and go-qemu's SocketMonitor
// supports one event listener whose channel must always be drained or
// command responses stall. Monitor owns that listener: a pump goroutine
// reads every event and queues it, unbounded, for each subscriber, so a slow
// subscriber never blocks commands.
//
// Limits inherited from go-qemu: one command runs at a time (a command
// abandoned on ctx still holds the connection until QEMU answers), and a
// QMP message longer than 64 KiB ends the connection (bufio.Scanner), so
// avoid query-qmp-schema and the like.
package qmpx
