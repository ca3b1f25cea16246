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
			code, err := run(t.Context(), []string{"--server", srv.URL, "status"}, &out, &errOut)
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
	code, err := run(t.Context(), []string{"--server", "http://127.0.0.1:1", "status"}, &out, &errOut)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "cannot reach the gateway") {
		t.Fatalf("code %d err %v", code, err)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"no command", nil, 2, "no command"},
		{"help", []string{"-h"}, 0, ""},
		{"command help", []string{"hosts", "-h"}, 0, ""},
		{"bad output", []string{"--token", "t", "hosts", "-o", "yaml"}, 2, "-o must be table or json"},
		{"too many ids", []string{"--token", "t", "hosts", "a", "b"}, 2, "at most 1 argument"},
		{"events takes no id", []string{"--token", "t", "events", "x"}, 2, "at most 0 argument"},
		{"unknown flag", []string{"sessions", "--game", "demo"}, 2, "flag provided but not defined"},
		{"id and filter", []string{"--token", "t", "sessions", "s1", "--host", "h1"}, 2, "not both"},
		{"server without scheme", []string{"--token", "t", "--server", "localhost:8080", "hosts"}, 2, "must be an http://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code, err := run(t.Context(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("code %d (err %v), want %d", code, err, tt.code)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if !strings.Contains(errOut.String(), "Usage:") {
					t.Fatalf("help printed %q", errOut.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code, err := run(t.Context(), []string{"version"}, &out, &errOut); code != 0 || err != nil || out.String() != "edgectl dev\n" {
		t.Fatalf("code %d err %v out %q", code, err, out.String())
	}
}
