package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

var (
	// src="…" and href="…" attributes of index.html.
	htmlRef = regexp.MustCompile(`(?:src|href)\s*=\s*"([^"]+)"`)
	// Static and dynamic import specifiers: import … from "x", import "x", import("x").
	jsImport = regexp.MustCompile(`(?m)(?:^\s*import\s[^"';]*?from\s*|^\s*import\s*|\bimport\s*\(\s*)["']([^"']+)["']`)
)

// TestAssetsComplete follows every reference from index.html and every import of the modules
// it loads, and fails on one the embedded FS lacks.
func TestAssetsComplete(t *testing.T) {
	page, err := assets.ReadFile("index.html")
	if err != nil {
		t.Fatal(err)
	}
	var queue []string
	for _, m := range htmlRef.FindAllStringSubmatch(string(page), -1) {
		ref := m[1]
		if ref == "./" || strings.Contains(ref, ":") || strings.HasPrefix(ref, "#") {
			continue // the page itself, absolute or data: URLs, fragments
		}
		queue = append(queue, ref)
	}
	if len(queue) == 0 {
		t.Fatal("index.html references nothing")
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		name := path.Clean(strings.TrimPrefix(ref, "/"))
		if seen[name] {
			continue
		}
		seen[name] = true
		data, err := fs.ReadFile(assets, name)
		if err != nil {
			t.Errorf("%s is referenced but not embedded: %v", ref, err)
			continue
		}
		if path.Ext(name) != ".js" {
			continue
		}
		for _, m := range jsImport.FindAllStringSubmatch(string(data), -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") && !strings.HasPrefix(spec, "/") {
				t.Errorf("%s imports %q: only relative imports work without a build step", name, spec)
				continue
			}
			queue = append(queue, path.Join(path.Dir(name), spec))
		}
	}
	for _, want := range []string{"app.js", "player.js", "input.js", "gamepad.js", "touch.js", "sound.js", "marker.js", "stats.js", "style.css", "player.css"} {
		if !seen[want] {
			t.Errorf("%s is not reachable from index.html", want)
		}
	}
}

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		body               string // a substring of the body
	}{
		{"index", http.MethodGet, "/", http.StatusOK, "text/html; charset=utf-8", `id="play"`},
		{"index by name", http.MethodGet, "/index.html", http.StatusOK, "text/html; charset=utf-8", "<title>edgeplay</title>"},
		{"app", http.MethodGet, "/app.js", http.StatusOK, "text/javascript; charset=utf-8", "EdgeplayPlayer"},
		{"module", http.MethodGet, "/input.js", http.StatusOK, "text/javascript; charset=utf-8", "export function encodeKey"},
		{"css", http.MethodGet, "/style.css", http.StatusOK, "text/css; charset=utf-8", ""},
		{"svg", http.MethodGet, "/favicon.svg", http.StatusOK, "image/svg+xml", "<svg"},
		{"head", http.MethodHead, "/app.js", http.StatusOK, "text/javascript; charset=utf-8", ""},
		{"unknown", http.MethodGet, "/nope.js", http.StatusNotFound, "", ""},
		{"go source", http.MethodGet, "/embed.go", http.StatusNotFound, "", ""},
		{"test file", http.MethodGet, "/input_test.mjs", http.StatusNotFound, "", ""},
		{"traversal", http.MethodGet, "/../go.mod", http.StatusNotFound, "", ""},
		{"directory", http.MethodGet, "/v1/", http.StatusNotFound, "", ""},
		{"post", http.MethodPost, "/", http.StatusMethodNotAllowed, "", ""},
		{"ops", http.MethodGet, "/ops", http.StatusOK, "text/html; charset=utf-8", "<title>edgeplay ops</title>"},
		{"ops by name", http.MethodGet, "/ops.html", http.StatusOK, "text/html; charset=utf-8", `id="token"`},
		{"ops script", http.MethodGet, "/ops.js", http.StatusOK, "text/javascript; charset=utf-8", "edgeplayOps"},
		{"ops css", http.MethodGet, "/ops.css", http.StatusOK, "text/css; charset=utf-8", ""},
		{"ops head", http.MethodHead, "/ops", http.StatusOK, "text/html; charset=utf-8", ""},
		{"ops post", http.MethodPost, "/ops", http.StatusMethodNotAllowed, "", ""},
		{"ops subpath", http.MethodGet, "/ops/", http.StatusNotFound, "", ""},
		{"embeddable player", http.MethodGet, "/sdk/edgeplay-player.js", http.StatusOK, "text/javascript; charset=utf-8", `customElements.define("edgeplay-player"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if tt.method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD has a body of %d bytes", rec.Body.Len())
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body does not contain %q", tt.body)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/player.js", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest(http.MethodGet, "/player.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("status %d, want 304", rec.Code)
	}
}

// TestOpsAssetsComplete: everything ops.html refers to is embedded, and its script's imports
// are relative and embedded (no build step).
func TestOpsAssetsComplete(t *testing.T) {
	page, err := assets.ReadFile("ops.html")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range htmlRef.FindAllStringSubmatch(string(page), -1) {
		ref := m[1]
		if ref == "./" || strings.Contains(ref, ":") || strings.HasPrefix(ref, "#") {
			continue
		}
		name := path.Clean(strings.TrimPrefix(ref, "/"))
		seen[name] = true
		data, err := fs.ReadFile(assets, name)
		if err != nil {
			t.Errorf("ops.html references %s, which is not embedded: %v", ref, err)
			continue
		}
		if path.Ext(name) == ".js" {
			for _, m := range jsImport.FindAllStringSubmatch(string(data), -1) {
				spec := m[1]
				if !strings.HasPrefix(spec, "./") {
					t.Errorf("%s imports %q: only relative imports work without a build step", name, spec)
				} else if _, err := fs.Stat(assets, path.Join(path.Dir(name), spec)); err != nil {
					t.Errorf("%s imports %q, which is not embedded", name, spec)
				}
			}
		}
	}
	for _, want := range []string{"ops.js", "ops.css", "favicon.svg"} {
		if !seen[want] {
			t.Errorf("ops.html does not reference %s", want)
		}
	}
}

// Studios' pages load the player's modules and style from the gateway: module scripts are
// fetched in CORS mode, so scripts and styles allow any origin (public, no credentials); the
// pages themselves do not.
func TestPlayerAssetsAllowOtherOrigins(t *testing.T) {
	h := Handler()
	for path, want := range map[string]string{
		"/sdk/edgeplay-player.js": "*", "/player.js": "*", "/input.js": "*", "/player.css": "*", "/": "", "/ops": "",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", path, got, want)
		}
	}
	// Every module the element imports is embedded (relative imports only, as for the page).
	data, err := fs.ReadFile(assets, "sdk/edgeplay-player.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range jsImport.FindAllStringSubmatch(string(data), -1) {
		if _, err := fs.ReadFile(assets, path.Clean(path.Join("sdk", m[1]))); err != nil {
			t.Errorf("the element imports %s: %v", m[1], err)
		}
	}
}

// The pages carry a Content Security Policy: the ops page (it holds the admin token) is never
// framed and talks to its own gateway only; scripts and styles come from the gateway alone.
func TestPagePolicies(t *testing.T) {
	h := Handler()
	for path, want := range map[string][]string{
		"/":    {"script-src 'self'", "frame-ancestors 'self'", "connect-src 'self' ws: wss:", "object-src 'none'"},
		"/ops": {"script-src 'self'", "frame-ancestors 'none'", "connect-src 'self';", "base-uri 'none'"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		csp := rec.Header().Get("Content-Security-Policy")
		for _, w := range want {
			if !strings.Contains(csp, w) {
				t.Errorf("%s: policy %q lacks %q", path, csp, w)
			}
		}
		if rec.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: no Referrer-Policy", path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/player.js", nil))
	if csp := rec.Header().Get("Content-Security-Policy"); csp != "" {
		t.Errorf("a script with a page policy %q", csp)
	}
}
