package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgeplay/edgeplay/protocol"
)

// opsServer serves /metrics, /healthz and /readyz for processes without a gateway (a host or
// a matchmaker on its own), so every role can be scraped and probed.
type opsServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve has returned
}

// startOps listens on addr. Ready means: every NATS connection of the process is connected,
// and every host in it is accepting sessions (state ready).
func (a *App) startOps(ctx context.Context, addr string, conns []*nats.Conn) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		for _, nc := range conns {
			if !nc.IsConnected() {
				http.Error(w, "not connected to NATS", http.StatusServiceUnavailable)
				return
			}
		}
		for _, h := range a.hosts {
			if st := h.Heartbeat().State; st != protocol.HostReady {
				http.Error(w, fmt.Sprintf("host %s is %s", h.ID(), st), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("ops listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.ops = &opsServer{srv: srv, ln: ln, done: make(chan struct{})}
	go func() {
		defer close(a.ops.done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("ops server stopped", "err", err)
		}
	}()
	a.log.Info("ops endpoints", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return nil
}

// OpsAddr is the address of the ops endpoints, or "".
func (a *App) OpsAddr() string {
	if a.ops == nil {
		return ""
	}
	return a.ops.ln.Addr().String()
}
