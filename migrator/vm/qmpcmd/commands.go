package qmpcmd

// Commands.
const (
	QMPCapabilities = "qmp_capabilities" // leaves QMP's negotiation mode
	QueryVersion    = "query-version"    // the handshake's step check (qmpx)

	QueryStatus = "query-status" // reply: StatusInfo
	Stop        = "stop"         // pause the guest
	Cont        = "cont"         // run the guest
	Quit        = "quit"         // end QEMU

	MigrateSetCapabilities = "migrate-set-capabilities" // args: SetCapabilities
	MigrateSetParameters   = "migrate-set-parameters"   // args: Parameters
	Migrate                = "migrate"                  // args: URI
	MigrateIncoming        = "migrate-incoming"         // args: URI
	MigrateContinue        = "migrate-continue"         // args: Continue
	MigrateStartPostcopy   = "migrate-start-postcopy"
	MigrateCancel          = "migrate_cancel"
	QueryMigrate           = "query-migrate" // reply: MigrateInfo (or raw for policy.ParseQueryMigrate)
	// Post-copy recovery (QEMU 7.2: from postcopy-paused only; both allow
	// exec-oob).
	MigrateRecover = "migrate-recover" // destination; args: URI
	MigratePause   = "migrate-pause"   // either end, in postcopy-active: break the stream

	ObjectAdd = "object-add" // e.g. TLS credentials for QEMU's own TLS migration (bench)

	XQueryVirtio            = "x-query-virtio"              // reply: []VirtioDevice
	XQueryVirtioQueueStatus = "x-query-virtio-queue-status" // args: VirtioQueue; reply: VirtioQueueStatus
)

// Events.
const (
	EventStop          = "STOP"           // the guest stopped
	EventResume        = "RESUME"         // the guest runs
	EventMigration     = "MIGRATION"      // data: {"status": ...} (with the events capability)
	EventMigrationPass = "MIGRATION_PASS" // data: {"pass": n} (with the events capability)
)

// Run states (StatusInfo.Status) and migration states (MigrateInfo.Status,
// EventMigration's status) the session tells apart.
const (
	RunStateRunning   = "running"
	RunStatePaused    = "paused"
	RunStateInmigrate = "inmigrate" // an incoming migration still loading

	MigrationActive          = "active"
	MigrationPreSwitchover   = "pre-switchover"
	MigrationPostcopyActive  = "postcopy-active"
	MigrationPostcopyPaused  = "postcopy-paused"
	MigrationPostcopyRecover = "postcopy-recover"
	MigrationCompleted       = "completed"
	MigrationFailed          = "failed"
	MigrationCancelling      = "cancelling"
	MigrationCancelled       = "cancelled"
	MigrationNone            = "none"
)
