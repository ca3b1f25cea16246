package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDrainCommands(t *testing.T) {
	var gotPath, gotAuth string
	var gotBody map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.Method+" "+r.URL.Path, r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		gotBody = nil
		_ = json.Unmarshal(b, &gotBody)
		if strings.Contains(r.URL.Path, "/nope/") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"code":"not_found","message":"no host \"nope\": the matchmaker does not know it"}`))
			return
		}
		state := "draining"
		if strings.HasSuffix(r.URL.Path, "/undrain") {
			state = "ready"
		}
		_, _ = w.Write([]byte(`{"id":"h1","host":"h1","region":"dxb-1","state":"` + state + `","slots":4,"used":1,"reserved":0}`))
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantPath string
		wantBody map[string]string
	}{
		{"drain", []string{"drain", "h1", "--deadline", "2m", "--reason", "new GPU driver"}, 0, "h1: draining (1/4 slots in use)\n",
			"POST /v1/admin/hosts/h1/drain", map[string]string{"deadline": "2m0s", "reason": "new GPU driver"}},
		{"undrain", []string{"undrain", "h1"}, 0, "h1: ready (1/4 slots in use)\n", "POST /v1/admin/hosts/h1/undrain", map[string]string{}},
		{"unknown host", []string{"drain", "nope"}, 1, "", "POST /v1/admin/hosts/nope/drain", nil},
		{"no host", []string{"drain"}, 2, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotPath, gotBody = "", nil
			var out, errOut bytes.Buffer
			args := append([]string{"--server", srv.URL, "--token", "tok"}, tt.args...)
			code, err := run(context.Background(), args, &out, &errOut)
			if code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d", code, err, tt.wantCode)
			}
			if out.String() != tt.wantOut {
				t.Fatalf("output %q, want %q", out.String(), tt.wantOut)
			}
			if gotPath != tt.wantPath {
				t.Fatalf("request %q, want %q", gotPath, tt.wantPath)
			}
			if tt.wantPath != "" && gotAuth != "Bearer tok" {
				t.Fatalf("authorization %q", gotAuth)
			}
			if tt.wantBody != nil && tt.wantBody["deadline"] != gotBody["deadline"] {
				t.Fatalf("body %v, want %v", gotBody, tt.wantBody)
			}
		})
	}
}
