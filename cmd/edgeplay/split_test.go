package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/internal/testplayer"
	"github.com/edgeplay/edgeplay/protocol"
)

// lockedLog collects a child process's output for the failure message.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// role is one edgeplay process.
type role struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedLog
	exited chan struct{}
}

// startRole runs `edgeplay args…` (this test binary acting as the command) until the test ends.
func startRole(t *testing.T, env []string, args ...string) *role {
	t.Helper()
	r := &role{name: args[0], cmd: exec.Command(os.Args[0], args...), out: &lockedLog{}, exited: make(chan struct{})}
	r.cmd.Env = append(append(os.Environ(), "EDGEPLAY_TEST_MAIN=1"), env...)
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(15 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("edgeplay %s output:\n%s", r.name, r.out.String())
		}
	})
	return r
}

// running fails the test if one of the roles has exited.
func running(t *testing.T, roles ...*role) {
	t.Helper()
	for _, r := range roles {
		select {
		case <-r.exited:
			t.Fatalf("edgeplay %s exited: %v\n%s", r.name, r.cmd.ProcessState, r.out.String())
		default:
		}
	}
}

// The roles as separate processes, as in production, on an external NATS server: Debian's
// nats-server (2.9), older than the one edgeplay embeds. A player measures its RTT on the
// gateway's probe endpoint (signed with the key the matchmaker shares), is placed and plays;
// the events API filters by type; the host is killed without a goodbye and the player is told
// host_lost.
func TestRolesOnExternalNATS(t *testing.T) {
	natsBin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatal("this test needs nats-server (Debian package nats-server; scripts/deps.sh test installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	natsAddr := freePort(t)
	host, port, _ := strings.Cut(natsAddr, ":")
	ns := exec.Command(natsBin, "-js", "-a", host, "-p", port, "-sd", t.TempDir())
	nsOut := &lockedLog{}
	ns.Stdout, ns.Stderr = nsOut, nsOut
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ns.Process.Signal(syscall.SIGTERM)
		_ = ns.Wait()
		if t.Failed() {
			t.Logf("nats-server output:\n%s", nsOut.String())
		}
	})
	url := "nats://" + natsAddr
	var nc *nats.Conn
	for nc == nil {
		if nc, err = nats.Connect(url); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("nats-server did not start: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer nc.Close()
	t.Logf("%s, version %s", natsBin, nc.ConnectedServerVersion())

	const key, token = "split-test-probe-key-0123456789abcdef", "split-test-admin-token"
	common := []string{"--nats", url, "--nats-no-auth", "--log-level", "info"}
	mm := startRole(t, nil, append([]string{"matchmaker", "--probe-key", key}, common...)...)
	hostArgs := []string{"host", "--id", "gpu-1", "--region", "dxb-1", "--slots", "2", "--udp", "127.0.0.1:0", "--size", "320x240"}
	hostRole := startRole(t, nil, append(hostArgs, common...)...)
	gwAddr := freePort(t)
	gw := startRole(t, []string{"EDGEPLAY_ADMIN_TOKEN=" + token},
		append([]string{"gateway", "--addr", gwAddr, "--region", "dxb-1", "--probe-key", key}, common...)...)
	base := "http://" + gwAddr

	admin := func(path string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b), nil
	}
	for {
		body, err := admin("/v1/admin/hosts")
		if err == nil && strings.Contains(body, `"gpu-1"`) {
			break
		}
		running(t, mm, hostRole, gw)
		if ctx.Err() != nil {
			t.Fatalf("the gateway never listed the host: %v %s", err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	p, err := testplayer.Dial(ctx, base, testplayer.Options{Probe: true, Game: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Play(ctx); err != nil {
		t.Fatal(err)
	}
	if len(p.RTTs) != 1 || p.RTTs[0].Token == "" {
		t.Fatalf("measured %+v, want one signed RTT for dxb-1", p.RTTs)
	}
	if p.Placed.Host != "gpu-1" || p.Placed.Region != "dxb-1" || !strings.Contains(p.Placed.Why, "rtt") {
		t.Fatalf("placed %+v", p.Placed)
	}
	for p.Received() < 10 {
		if ctx.Err() != nil {
			t.Fatalf("%d video packets", p.Received())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Two kinds asked for: only those come back (servers before 2.10 ignore the consumer's
	// filter subjects; the gateway filters as well).
	var kinds map[string]int
	for {
		body, err := admin("/v1/admin/events?type=placed,ticket_created&limit=100")
		if err != nil {
			t.Fatal(err)
		}
		kinds = map[string]int{}
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			var ev protocol.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("event line %q: %v", sc.Text(), err)
			}
			kinds[ev.Kind]++
		}
		if kinds["placed"] == 1 && kinds["ticket_created"] == 1 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(kinds) != 2 || kinds["placed"] != 1 || kinds["ticket_created"] != 1 {
		t.Fatalf("events by kind %v, want one placed and one ticket_created", kinds)
	}

	killed := time.Now()
	if err := hostRole.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := p.Next(ctx)
		if err != nil {
			t.Fatalf("no ended message after the host died: %v", err)
		}
		if m.Type == protocol.TypeEnded {
			if m.Reason != protocol.ReasonHostLost {
				t.Fatalf("ended %+v, want reason host_lost", m)
			}
			t.Logf("host_lost reached the player %s after the host was killed", time.Since(killed).Round(time.Millisecond))
			break
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
