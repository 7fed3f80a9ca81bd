package agent

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/nfhandoff/nfhandoff/migrator/api"
)

// metrics are the agent's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg             *prometheus.Registry
	starts          prometheus.Counter
	startFailures   *prometheus.CounterVec
	unexpectedExits prometheus.Counter
	requests        *prometheus.CounterVec
	info            *prometheus.GaugeVec
	migrationMetrics

	infoMu sync.Mutex
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nfh_vm_starts_total", Help: "VM start requests.",
		}),
		startFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nfh_vm_start_failures_total", Help: "VM start requests that failed, by API error code.",
		}, []string{"reason"}),
		unexpectedExits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "nfh_vm_unexpected_exits_total", Help: "Guests whose QEMU exited without a stop.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nfh_api_requests_total", Help: "API requests, by route and HTTP status code.",
		}, []string{"route", "code"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "nfh_agent_info", Help: "Always 1; labels describe the agent.",
		}, []string{"host", "version", "accel"}),
	}
	kept := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nfh_store_writes_kept",
		Help: "Record writes the store failed, kept and retried until it takes them (0: the store holds every record).",
	}, func() float64 { return float64(a.keptWrites()) })
	m.reg.MustRegister(m.starts, m.startFailures, m.unexpectedExits, m.requests, m.info,
		vmsCollector{a}, kept,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.migrationMetrics = newMigrationMetrics(a, m.reg)
	m.setInfo(a.cfg.Host, a.cfg.Version, "")
	return m
}

func (m *metrics) setInfo(host, version, accel string) {
	m.infoMu.Lock()
	defer m.infoMu.Unlock()
	m.info.Reset()
	if accel == "" {
		accel = "unknown"
	}
	m.info.WithLabelValues(host, version, accel).Set(1)
}

var vmsDesc = prometheus.NewDesc("nfh_vms", "VMs owned by the agent, by state.", []string{"state"}, nil)

// vmsCollector counts the agent's VMs by state at scrape time.
type vmsCollector struct{ a *Agent }

func (c vmsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- vmsDesc }

func (c vmsCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{api.StateStarting: 0, api.StateRunning: 0, api.StateFailed: 0}
	c.a.mu.Lock()
	for _, e := range c.a.vms {
		counts[e.rec.State]++
	}
	c.a.mu.Unlock()
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(vmsDesc, prometheus.GaugeValue, float64(n), state)
	}
}

// MetricsHandler serves the agent's metrics in the Prometheus text format.
func (a *Agent) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{Registry: a.metrics.reg})
}

// count records each request by its route pattern and status code.
func (a *Agent) count(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		route := r.Pattern
		if route == "/" {
			route = "other"
		}
		a.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// migrationMetrics are the migration counters and histograms.
type migrationMetrics struct {
	migrationsStarted *prometheus.CounterVec
	migrations        *prometheus.CounterVec
	migrationSeconds  *prometheus.HistogramVec
	handoffDropped    *prometheus.CounterVec
	handoffModes      *prometheus.CounterVec
}

func newMigrationMetrics(a *Agent, reg *prometheus.Registry) migrationMetrics {
	m := migrationMetrics{
		migrationsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nfh_migrations_started_total", Help: "Migrations started, by role.",
		}, []string{"role"}),
		migrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nfh_migrations_total", Help: "Migrations ended, by role and result (completed, failed, cancelled).",
		}, []string{"role", "result"}),
		migrationSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nfh_migration_duration_seconds", Help: "Wall-clock duration of ended migrations, by role.",
			Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
		}, []string{"role"}),
		handoffDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nfh_migration_handoff_dropped_total",
			Help: "Frames the traffic hand-off of ended migrations dropped at this end, by role and reason.",
		}, []string{"role", "reason"}),
		handoffModes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nfh_migration_handoff_mode_seconds_total",
			Help: "Time ended migrations' VMs spent in each hand-off mode at this end, by role and mode.",
		}, []string{"role", "mode"}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nfh_migration_active", Help: "Migrations under way on this agent (either role).",
	}, func() float64 { return float64(a.activeMigrations()) })
	reg.MustRegister(m.migrationsStarted, m.migrations, m.migrationSeconds, m.handoffDropped, m.handoffModes, active)
	return m
}

func (m migrationMetrics) migrationEnded(mig api.Migration) {
	m.migrations.WithLabelValues(mig.Role, mig.State).Inc()
	if !mig.Ended.IsZero() && !mig.Started.IsZero() {
		m.migrationSeconds.WithLabelValues(mig.Role).Observe(mig.Ended.Sub(mig.Started).Seconds())
	}
	if mig.Handoff == nil {
		return
	}
	st := mig.Handoff.Source
	if mig.Role == "destination" {
		st = mig.Handoff.Destination
	}
	for reason, n := range st.Dropped {
		m.handoffDropped.WithLabelValues(mig.Role, reason).Add(float64(n))
	}
	for mode, d := range st.Modes {
		m.handoffModes.WithLabelValues(mig.Role, mode).Add(time.Duration(d).Seconds())
	}
}
