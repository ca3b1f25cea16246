package session

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/media"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/server"
)

func TestSessionStatus(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		info SessionInfo
		want protocol.SessionStatus
	}{
		{
			name: "reserved: no start, no rates",
			info: SessionInfo{ID: "s1", Game: "demo", State: StateReserved},
			want: protocol.SessionStatus{ID: "s1", Game: "demo", Host: "h1", Region: "dxb-1", State: StateReserved},
		},
		{
			name: "playing for 10 s",
			info: SessionInfo{ID: "s2", Game: "demo", State: StatePlaying, Stats: Stats{
				VideoStats: media.VideoStats{
					FramesEncoded: 599, BytesSent: 5_000_000, Codec: "vp8", Width: 960, Height: 540, TargetKbps: 2100,
				},
				ConnectedSince: now.Add(-10 * time.Second),
			}},
			want: protocol.SessionStatus{
				ID: "s2", Game: "demo", Host: "h1", Region: "dxb-1", State: StatePlaying,
				StartedAt: now.Add(-10 * time.Second), DurationSeconds: 10, FPS: 59.9, BitrateKbps: 4000,
				Codec: "vp8", Width: 960, Height: 540, TargetKbps: 2100,
			},
		},
		{
			name: "connected in the future (clock step): no rates",
			info: SessionInfo{ID: "s3", Game: "demo", State: StatePlaying, Stats: Stats{
				VideoStats: media.VideoStats{FramesEncoded: 5}, ConnectedSince: now.Add(time.Second),
			}},
			want: protocol.SessionStatus{
				ID: "s3", Game: "demo", Host: "h1", Region: "dxb-1", State: StatePlaying,
				StartedAt: now.Add(time.Second),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sessionStatus("h1", "dxb-1", tt.info, now); got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestHostAnswersSessionsQuery runs a real host on embedded NATS and asks it for its sessions
// the way the gateway's admin API does.
func TestHostAnswersSessionsQuery(t *testing.T) {
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, closeNC, err := natsd.Connect("", ns, "test", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNC)
	h, err := New(Config{
		ID: "h1", Region: "dxb-1", Slots: 2, Games: map[string]game.Factory{"demo": demo.Factory},
		UDPAddr: "127.0.0.1:0", Logger: log,
	}, nc)
	if err != nil { // make test installs libx264: a missing encoder is a failure
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	ask := func() (string, []protocol.SessionStatus) {
		t.Helper()
		msg, err := nc.Request(protocol.SubjectHostSessions("h1"), nil, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var out []protocol.SessionStatus
		if err := json.Unmarshal(msg.Data, &out); err != nil {
			t.Fatalf("reply %q: %v", msg.Data, err)
		}
		return string(msg.Data), out
	}
	if raw, got := ask(); raw != "[]" || len(got) != 0 {
		t.Fatalf("idle host replied %s", raw)
	}

	req, _ := json.Marshal(protocol.ReserveRequest{Session: "s1", Game: "demo"})
	msg, err := nc.Request(protocol.SubjectReserve("h1"), req, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.Reply
	if err := json.Unmarshal(msg.Data, &r); err != nil || !r.OK {
		t.Fatalf("reserve: %s %v", msg.Data, err)
	}

	raw, got := ask()
	want := protocol.SessionStatus{ID: "s1", Game: "demo", Host: "h1", Region: "dxb-1", State: StateReserved}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if strings.Contains(raw, "started_at") {
		t.Fatalf("a session that never connected has a start time: %s", raw)
	}

	// The same through the gateway's admin API, with a stand-in for the matchmaker's hosts
	// query: the contract between this handler and server/admin.go.
	hosts, _ := json.Marshal([]protocol.HostStatus{{Heartbeat: h.Heartbeat(), Health: "ready"}})
	sub, err := nc.Subscribe(protocol.SubjectHosts, func(m *nats.Msg) { _ = m.Respond(hosts) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	srv, err := server.New(server.Config{Logger: log, AdminToken: "tok"}, nc)
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(srv.Handler())
	defer gw.Close()
	hreq, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, gw.URL+"/v1/admin/sessions?host=h1", nil)
	hreq.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var viaGateway []protocol.SessionStatus
	if err := json.NewDecoder(resp.Body).Decode(&viaGateway); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("gateway: status %d: %v", resp.StatusCode, err)
	}
	if len(viaGateway) != 1 || viaGateway[0] != want || resp.Header.Get("X-Edgeplay-Missing-Hosts") != "" {
		t.Fatalf("gateway: %+v (missing %q), want [%+v]", viaGateway, resp.Header.Get("X-Edgeplay-Missing-Hosts"), want)
	}
}
