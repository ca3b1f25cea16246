package matchmaker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgeplay/edgeplay/protocol"
)

// startCluster runs three clustered nats-servers with JetStream in this process.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	ports := make([]int, 3)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	for i := range 3 {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "edgeplay-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(s.Shutdown)
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("cluster node not ready")
		}
		servers = append(servers, s)
	}
	return servers
}

// TestClusterNodeDeath: on a 3-node NATS cluster (JetStream replicas 3), the node the
// matchmaker is connected to dies during a stream of joins. The matchmaker reconnects,
// placements continue, and every placement's event is in the events stream.
func TestClusterNodeDeath(t *testing.T) {
	servers := startCluster(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	urls := []string{servers[0].ClientURL(), servers[1].ClientURL(), servers[2].ClientURL()}
	connect := func(name string, first int) *nats.Conn {
		t.Helper()
		order := append([]string{urls[first]}, append(append([]string{}, urls[:first]...), urls[first+1:]...)...)
		nc, err := nats.Connect(strings.Join(order, ","), nats.Name(name), nats.DontRandomize(),
			nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// Wait for the JetStream meta leader, then start the matchmaker on node 1.
	mmConn := connect("mm", 0)
	var m *Matchmaker
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		m, err = New(Config{ID: "mm", Replicas: 3, Logger: quiet}, mmConn)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("matchmaker on the cluster: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer m.Close()
	waitLeader(t, m)
	hostConn := connect("hosts", 1)
	h := newFakeHost(t, hostConn, "h1", 1000)
	h.beat(t, protocol.HostReady)
	waitHosts(t, m, 1)
	// Keep the host alive through the failover.
	stopBeats := make(chan struct{})
	defer close(stopBeats)
	go func() {
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopBeats:
				return
			case <-tk.C:
				h.beatNow()
			}
		}
	}()

	client := connect("gateway", 2)
	var placed, failed atomic.Int32
	var placedAfterKill atomic.Int32
	var killed atomic.Bool
	join := func(i int) {
		b, _ := json.Marshal(protocol.PlaceRequest{Session: fmt.Sprintf("s%d", i), Game: "demo"})
		for range 50 { // like the gateway: retry while no matchmaker answers
			resp, err := client.Request(protocol.SubjectPlace, b, 2*time.Second)
			if err != nil {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			var r protocol.Reply
			if json.Unmarshal(resp.Data, &r) == nil && r.OK && !r.Queued {
				placed.Add(1)
				if killed.Load() {
					placedAfterKill.Add(1)
				}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		failed.Add(1)
	}
	const joins = 60
	for i := range joins {
		if i == 20 {
			servers[0].Shutdown() // the matchmaker's node
			killed.Store(true)
		}
		join(i)
		time.Sleep(20 * time.Millisecond)
	}
	if failed.Load() > 0 || placed.Load() != joins || placedAfterKill.Load() == 0 {
		t.Fatalf("placed %d (after the kill %d), failed %d of %d", placed.Load(), placedAfterKill.Load(), failed.Load(), joins)
	}

	// Every placement has its event in the (replicated) stream.
	js, err := jetstream.New(client)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for ctx.Err() == nil && len(seen) < joins {
		cons, err := js.OrderedConsumer(ctx, protocol.StreamEvents, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{protocol.SubjectEvent("placed")},
		})
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		seen = map[string]bool{}
		for {
			msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
			if err != nil {
				break
			}
			var ev protocol.Event
			if json.Unmarshal(msg.Data(), &ev) == nil {
				seen[ev.Session] = true
			}
		}
	}
	if len(seen) != joins {
		t.Fatalf("%d placed events in the stream, want %d", len(seen), joins)
	}
	info, err := js.Stream(ctx, protocol.StreamEvents)
	if err == nil {
		if r := info.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("events stream replicas %d, want 3", r)
		}
	}
	t.Logf("%d joins, node 1 killed after 20: %d placed after the kill, %d placed events kept", joins, placedAfterKill.Load(), len(seen))
}
