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
		if r.URL.Path == "/v1/admin/regions" {
			_, _ = w.Write([]byte(`[{"id":"dxb-1","hosts":2,"ready":1,"draining":1,"slots":8,"used":3,"ready_free":3}]`))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/admin/regions/") {
			if gotBody["force"] != "true" && !strings.Contains(string(b), `"force":true`) {
				w.WriteHeader(http.StatusConflict)
				_, _ = w.Write([]byte(`{"code":"bad_state","message":"draining dxb-1 would leave 0 free ready slots elsewhere"}`))
				return
			}
			_, _ = w.Write([]byte(`[{"id":"h1","host":"h1","region":"dxb-1","state":"drained","slots":4}]`))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/kick") {
			_, _ = w.Write([]byte(`{"id":"c0ffee0011223344","game":"demo","host":"h1","region":"dxb-1","state":"playing"}`))
			return
		}
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
		{
			"drain",
			[]string{"drain", "h1", "--deadline", "2m", "--reason", "new GPU driver"},
			0, "h1: draining (1/4 slots in use)\n",
			"POST /v1/admin/hosts/h1/drain",
			map[string]string{"deadline": "2m0s", "reason": "new GPU driver"},
		},
		{"undrain", []string{"undrain", "h1"}, 0, "h1: ready (1/4 slots in use)\n", "POST /v1/admin/hosts/h1/undrain", map[string]string{}},
		{"unknown host", []string{"drain", "nope"}, 1, "", "POST /v1/admin/hosts/nope/drain", nil},
		{"no host", []string{"drain"}, 2, "", "", nil},
		{"region refused", []string{"drain", "--region", "dxb-1"}, 1, "", "POST /v1/admin/regions/dxb-1/drain", nil},
		{"region forced", []string{"drain", "--region", "dxb-1", "--force"}, 0, "h1: drained (0/4 slots in use)\n", "POST /v1/admin/regions/dxb-1/drain", nil},
		{"kick", []string{"kick", "c0ffee0011223344"}, 0, "c0ffee0011223344: kicked (was playing on h1 in dxb-1)\n", "POST /v1/admin/sessions/c0ffee0011223344/kick", nil},
		{"kick without id", []string{"kick"}, 2, "", "", nil},
		{"regions", []string{"regions"}, 0, "ID     HOSTS  READY  DRAINING  SLOTS  USED  FREE\ndxb-1  2      1      1         8      3     3\n", "GET /v1/admin/regions", nil},
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
			if tt.wantOut != "" { // the same output, kept as golden files beside the others
				checkGolden(t, "ops_"+strings.ReplaceAll(tt.name, " ", "_")+".golden", out.Bytes())
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
