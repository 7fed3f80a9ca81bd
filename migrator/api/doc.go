// Package api holds the wire types of migratord's HTTP/JSON API and a client
// for it. The agent (migrator/agent) serves these types; netctl imports only
// this package, never the engine.
//
// Endpoints (all JSON, served on a unix socket):
//
//	GET    /v1/health               -> Health
//	GET    /v1/vms                  -> []VM
//	POST   /v1/vms        VMSpec    -> VM (201)
//	GET    /v1/vms/{name}           -> VM
//	GET    /v1/vms/{name}/status    -> VMStatus (VM plus the guest's vnf status)
//	DELETE /v1/vms/{name}           -> VM (the final record, state "stopped")
//	POST   /v1/migrations   MigrateRequest -> Migration (202; runs in the background)
//	GET    /v1/migrations           -> []Migration, newest first
//	GET    /v1/migrations/{id}      -> Migration (live progress while it runs)
//	POST   /v1/migrations/{id}/cancel -> Migration
//	PUT    /v1/migrations/{id}/verification  (JSON) -> Migration
//	GET    /metrics                 -> Prometheus text format
//
// Errors come back as an Error body with a non-2xx status; the client turns
// them into *Error values that match the exported sentinels with errors.Is.
package api
