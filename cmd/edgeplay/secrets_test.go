package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(good, []byte("  0123456789abcdef0123456789abcdef\n"), 0o600)
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	for _, tc := range []struct {
		name, file, value string
		want              string // the secret, or the error's text
	}{
		{"none", "", "", ""},
		{"value", "", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"},
		{"file wins, trimmed", good, "ignored-0123456789abcdef0123456789", "0123456789abcdef0123456789abcdef"},
		{"short", "", "0123456789", "at least 32"},
		{"placeholder", "", "REPLACE-ME-with-at-least-32-random-bytes-0000", "placeholder"},
		{"another placeholder", "", "changeme-changeme-changeme-changeme", "placeholder"},
		{"empty file", empty, "", "is empty"},
		{"missing file", filepath.Join(dir, "none"), "", "no such file"},
	} {
		s, err := secret("the key", "--key-file", tc.file, tc.value, 32)
		got := string(s)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Roles refuse to start with a weak or placeholder secret, and a matchmaker without a probe key.
func TestRolesRefuseWeakSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"matchmaker without a probe key", nil, []string{"matchmaker", "--nats", "nats://127.0.0.1:1", "--nats-no-auth"}, "would trust the RTTs"},
		{"short probe key", nil, []string{"gateway", "--probe-key", "sixteen-bytes-ok"}, "the probe key is 16 bytes"},
		{"placeholder admin token", map[string]string{"EDGEPLAY_ADMIN_TOKEN": "REPLACE-ME"}, []string{"gateway"}, "the admin token"},
		{"short admin token", map[string]string{"EDGEPLAY_ADMIN_TOKEN": "t0ken"}, []string{"up"}, "at least 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EDGEPLAY_ADMIN_TOKEN", "")
			t.Setenv("EDGEPLAY_PROBE_KEY", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := run(tc.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one that mentions %q", err, tc.want)
			}
		})
	}
}

// A role on an external NATS without credentials refuses to start unless --nats-no-auth says
// it is a development cluster.
func TestRolesRefuseNATSWithoutCredentials(t *testing.T) {
	t.Setenv("EDGEPLAY_PROBE_KEY", "")
	for _, args := range [][]string{
		{"host", "--nats", "nats://127.0.0.1:1"},
		{"gateway", "--nats", "nats://127.0.0.1:1"},
		{"matchmaker", "--nats", "nats://127.0.0.1:1", "--allow-unsigned-rtt"},
	} {
		var stderr bytes.Buffer
		if err := run(args, &stderr); err == nil || !strings.Contains(err.Error(), "without credentials") {
			t.Errorf("%v: %v, want a refusal without credentials", args, err)
		}
	}
	for _, u := range []string{"nats://edgeplay-host:secret@127.0.0.1:1", "nats://a:1,nats://u:p@b:2"} {
		if !urlHasUser(u) {
			t.Errorf("%s carries credentials", u)
		}
	}
	if urlHasUser("nats://127.0.0.1:1,nats://b:2") {
		t.Error("no credentials in a plain URL list")
	}
}
