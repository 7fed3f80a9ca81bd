package main

import (
	"net/http"
	"net/http/pprof"
)

// pprofMux serves Go's runtime profiles, as net/http/pprof registers them
// on the default mux (which migratord does not use): `go tool pprof
// unix:PATH` cannot dial a socket, so fetch with curl --unix-socket.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
