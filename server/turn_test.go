package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/edgeplay/edgeplay/internal/natsd"
	"github.com/edgeplay/edgeplay/protocol"
	"github.com/edgeplay/edgeplay/turn"
)

var turnSecret = []byte("0123456789abcdef0123456789abcdef")

func TestTURNConfigValidate(t *testing.T) {
	ok := []string{
		"turn:turn.example:3478?transport=udp", "turn:203.0.113.7:3478?transport=tcp",
		"turns:turn.example:443?transport=tcp", "turn:turn.example", "turn:[2001:db8::1]:3478",
	}
	for _, u := range ok {
		if err := (TURNConfig{URLs: []string{u}, Secret: turnSecret}).Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	bad := []TURNConfig{
		{URLs: []string{"turn:turn.example:3478"}},                          // no secret
		{URLs: []string{"turn:turn.example:3478"}, Secret: []byte("short")}, // short secret
		{URLs: []string{"stun:turn.example:3478"}, Secret: turnSecret},
		{URLs: []string{"https://turn.example"}, Secret: turnSecret},
		{URLs: []string{"turn:"}, Secret: turnSecret},
		{URLs: []string{"turn:turn.example:3478?transport=sctp"}, Secret: turnSecret},
		{URLs: []string{"turns:turn.example:443?transport=udp"}, Secret: turnSecret},
		{URLs: []string{"turn:user@turn.example"}, Secret: turnSecret},
		{URLs: []string{"turn:turn.example"}, Secret: turnSecret, TTL: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: valid", c)
		}
	}
	if err := (TURNConfig{}).Validate(); err != nil {
		t.Errorf("TURN off: %v", err)
	}
}

// A placed player is given the TURN URLs with credentials for its own session, valid for
// the TTL, which a TURN server sharing the secret accepts.
func TestPlacedCarriesTURNCredentials(t *testing.T) {
	urls := []string{"turn:turn.example:3478?transport=udp", "turn:turn.example:3478?transport=tcp"}
	placed, session := placeOne(t, TURNConfig{URLs: urls, Secret: turnSecret, TTL: 10 * time.Minute})
	if len(placed.ICEServers) != 1 {
		t.Fatalf("placed has %d ice_servers, want 1: %+v", len(placed.ICEServers), placed)
	}
	ice := placed.ICEServers[0]
	if strings.Join(ice.URLs, " ") != strings.Join(urls, " ") {
		t.Errorf("urls %v, want %v", ice.URLs, urls)
	}
	got, err := turn.Validate(turnSecret, ice.Username, ice.Credential, time.Now())
	if err != nil || got != session {
		t.Fatalf("credentials: session %q, %v; want %q", got, err, session)
	}
	if _, err := turn.Validate(turnSecret, ice.Username, ice.Credential, time.Now().Add(11*time.Minute)); err == nil {
		t.Error("the credentials are valid for more than their TTL")
	}
	if placed, _ := placeOne(t, TURNConfig{}); placed.ICEServers != nil {
		t.Errorf("without TURN, placed has ice_servers %+v", placed.ICEServers)
	}
}

// placeOne runs a gateway with the TURN config, a fake matchmaker that places every join on
// host h1 and a fake host that starts every session; a player joins, and placeOne returns its
// "placed" message and session id.
func placeOne(t *testing.T, tc TURNConfig) (protocol.Message, string) {
	t.Helper()
	ns, err := natsd.Start(natsd.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gwNC, closeGW, err := natsd.Connect("", ns, "gw", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeGW)
	fake, closeFake, err := natsd.Connect("", ns, "fake", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFake)
	reply := func(m *nats.Msg, r protocol.Reply) {
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	for subj, r := range map[string]protocol.Reply{
		protocol.SubjectPlace:           {OK: true, Host: "h1", Region: "r1"},
		protocol.SubjectToHostAll("h1"): {OK: true},
	} {
		if _, err := fake.Subscribe(subj, func(m *nats.Msg) { reply(m, r) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := fake.Flush(); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Logger: log, TURN: tc}, gwNC)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/v1/play", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var welcome protocol.Message
	if err := ws.ReadJSON(&welcome); err != nil || welcome.Type != protocol.TypeWelcome {
		t.Fatalf("welcome: %+v, %v", welcome, err)
	}
	if err := ws.WriteJSON(protocol.Message{Type: protocol.TypeJoin, Game: "demo"}); err != nil {
		t.Fatal(err)
	}
	for {
		var m protocol.Message
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for placed: %v", err)
		}
		if m.Type == protocol.TypePlaced {
			return m, welcome.Session
		}
		if m.Type == protocol.TypeError {
			t.Fatalf("error: %+v", m)
		}
	}
}
