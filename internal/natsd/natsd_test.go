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
