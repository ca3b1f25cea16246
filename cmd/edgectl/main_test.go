package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !ready {
			http.Error(w, "not connected to NATS", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer srv.Close()

	tests := []struct {
		name     string
		ready    bool
		wantCode int
		wantOut  string
	}{
		{"ready", true, 0, "healthz  200 ok\nreadyz   200 ok\n"},
		{"not ready", false, 1, "healthz  200 ok\nreadyz   503 not connected to NATS\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready = tt.ready
			var out, errOut bytes.Buffer
			code, err := run([]string{"--server", srv.URL, "status"}, &out, &errOut)
			if err != nil || code != tt.wantCode {
				t.Fatalf("code %d err %v, want %d", code, err, tt.wantCode)
			}
			if out.String() != tt.wantOut {
				t.Fatalf("output %q, want %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestStatusUnreachable(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := run([]string{"--server", "http://127.0.0.1:1", "status"}, &out, &errOut)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "cannot reach the gateway") {
		t.Fatalf("code %d err %v", code, err)
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code, err := run([]string{"frobnicate"}, &out, &errOut); code != 2 || err == nil {
		t.Fatalf("code %d err %v", code, err)
	}
}
