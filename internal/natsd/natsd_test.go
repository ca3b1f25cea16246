package natsd

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/protocol"
)

// TestOnlyHostsPublishHeartbeats: with Auth, a gateway's or matchmaker's credentials cannot
// publish a heartbeat (the server refuses it and nobody receives it), a host's can, and a wrong
// password cannot connect at all.
func TestOnlyHostsPublishHeartbeats(t *testing.T) {
	s, err := Start(Config{StoreDir: t.TempDir(), Auth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	conn := func(r Role, errs chan error) *nats.Conn {
		t.Helper()
		nc, closeFn, err := Connect("", s, string(r), quiet, nats.UserInfo(s.Credentials(r)),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				if errs != nil {
					errs <- err
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeFn)
		return nc
	}
	mm := conn(RoleMatchmaker, nil)
	got := make(chan string, 10)
	if _, err := mm.Subscribe(protocol.SubjectHeartbeatAll, func(m *nats.Msg) { got <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	if err := mm.Flush(); err != nil {
		t.Fatal(err)
	}

	for _, r := range []Role{RoleGateway, RoleMatchmaker} {
		errs := make(chan error, 10)
		nc := conn(r, errs)
		if err := nc.Publish(protocol.SubjectHeartbeat("forged"), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("%s: error %v, want a permissions violation", r, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: forged heartbeat not refused", r)
		}
	}
	host := conn(RoleHost, nil)
	if err := host.Publish(protocol.SubjectHeartbeat("h1"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	_ = host.Flush()
	select {
	case subj := <-got:
		if subj != protocol.SubjectHeartbeat("h1") {
			t.Fatalf("received %s: a forged heartbeat got through", subj)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the host's heartbeat did not arrive")
	}

	if _, _, err := Connect("", s, "intruder", quiet, nats.UserInfo("edgeplay-host", "wrong")); err == nil {
		t.Fatal("connected with a wrong password")
	}
}

// TestHostsSpeakOnlyForThemselves: with a user per host, host h1 cannot publish h2's heartbeat,
// cannot take h2's reservation requests, cannot publish host_lost (on which gateways end
// sessions), and cannot write to h2's players or as the matchmaker; its own heartbeat, its own
// subjects, its own players and its own events work.
func TestHostsSpeakOnlyForThemselves(t *testing.T) {
	s, err := Start(Config{StoreDir: t.TempDir(), Auth: true, HostIDs: []string{"h1", "h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	errs := make(chan error, 10)
	connect := func(name, user, pw string, errs chan error) *nats.Conn {
		t.Helper()
		nc, closeFn, err := Connect("", s, name, quiet, nats.UserInfo(user, pw),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				if errs != nil {
					errs <- err
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeFn)
		return nc
	}
	u, pw := s.Credentials(RoleMatchmaker)
	mm := connect("mm", u, pw, nil)
	got := make(chan string, 10)
	for _, subj := range []string{protocol.SubjectHeartbeatAll, protocol.SubjectEventsAll} {
		if _, err := mm.Subscribe(subj, func(m *nats.Msg) { got <- m.Subject }); err != nil {
			t.Fatal(err)
		}
	}
	_ = mm.Flush()
	u, pw = s.HostCredentials("h1")
	h1 := connect("h1", u, pw, errs)

	refused := func(what string) {
		t.Helper()
		select {
		case err := <-errs:
			if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("%s: error %v, want a permissions violation", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not refused", what)
		}
	}
	forged := []string{
		protocol.SubjectHeartbeat("h2"), protocol.SubjectEvent(protocol.EventHostLost),
		protocol.SubjectFromHost("h2", "s1"), protocol.SubjectToClient("s1"),
	}
	for _, subj := range forged {
		if err := h1.Publish(subj, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		_ = h1.Flush()
		refused("h1 publishing " + subj)
	}
	for _, subj := range []string{protocol.SubjectReserve("h2"), "_INBOX.>"} {
		sub, err := h1.Subscribe(subj, func(*nats.Msg) {})
		if err != nil {
			t.Fatal(err)
		}
		_ = h1.Flush()
		refused("h1 subscribing to " + subj)
		_ = sub.Unsubscribe()
	}

	if _, err := h1.Subscribe(protocol.SubjectReserve("h1"), func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	u, pw = s.Credentials(RoleGateway)
	gw := connect("gw", u, pw, nil)
	if _, err := gw.Subscribe("edgeplay.player.>", func(m *nats.Msg) { got <- m.Subject }); err != nil {
		t.Fatal(err)
	}
	_ = gw.Flush()
	for _, subj := range []string{protocol.SubjectHeartbeat("h1"), protocol.SubjectEvent("ended"), protocol.SubjectFromHost("h1", "s1")} {
		if err := h1.Publish(subj, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	_ = h1.Flush()
	want := map[string]bool{protocol.SubjectHeartbeat("h1"): true, protocol.SubjectEvent("ended"): true, protocol.SubjectFromHost("h1", "s1"): true}
	for len(want) > 0 {
		select {
		case subj := <-got:
			if !want[subj] {
				t.Fatalf("received %s: something forged got through", subj)
			}
			delete(want, subj)
		case <-time.After(5 * time.Second):
			t.Fatalf("%v did not arrive", want)
		}
	}
	if resp, err := mm.Request(protocol.SubjectReserve("h1"), nil, 5*time.Second); err != nil || string(resp.Data) != "ok" {
		t.Fatalf("h1's own reservation subject: %v %v", resp, err)
	}
	// The matchmaker frees a cancelled ticket's late reservation with a "leave" to the host.
	leaves, err := h1.SubscribeSync(protocol.SubjectToHost("h1", "s1"))
	if err != nil {
		t.Fatal(err)
	}
	_ = h1.Flush()
	if err := mm.Publish(protocol.SubjectToHost("h1", "s1"), []byte(`{"type":"leave"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := leaves.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("the matchmaker's leave did not reach the host: %v", err)
	}
	select {
	case err := <-errs:
		t.Fatalf("h1 using its own subjects: %v", err)
	default:
	}
}
