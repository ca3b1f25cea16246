// Package web is the browser client: a page, an embeddable player (player.js, and the custom
// element <edgeplay-player> for studios' pages, sdk/edgeplay-player.js) and the input and
// latency-marker code, as plain ES modules embedded into the binary. Handler serves them.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed index.html style.css player.css ops.html ops.css favicon.svg *.js sdk/*.js
var assets embed.FS

// contentTypes is explicit so that the answer does not depend on the machine's mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// pagePolicy is the Content Security Policy of each page: scripts and styles only from the
// gateway, no plugins, no base or form tricks. The player page may open websockets to other
// data centers' gateways (their RTT probes) and be framed by the gateway's own pages only
// (studios embed the player as an element, not a frame); the ops page, which holds the admin
// token, talks to its own gateway only and is never framed.
var pagePolicy = func() map[string]string {
	common := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; "
	player := common + "connect-src 'self' ws: wss: http: https:; media-src 'self' blob:; frame-ancestors 'self'"
	ops := common + "connect-src 'self'; frame-ancestors 'none'"
	return map[string]string{"/": player, "/index.html": player, "/ops": ops, "/ops.html": ops}
}()

type asset struct {
	data        []byte
	contentType string
	etag        string
}

// Handler serves the client: index.html at "/", the ops page (ops.html) at "/ops", every
// other asset by name, 404 for the rest.
// Responses carry Cache-Control: no-cache and a content hash as ETag, so browsers revalidate
// and a new binary's assets are picked up at once. Mount it under a prefix with
// http.StripPrefix; the page refers to its assets by relative URLs.
func Handler() http.Handler {
	files := map[string]asset{}
	err := fs.WalkDir(assets, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := contentTypes[path.Ext(name)]
		if ct == "" {
			ct = "application/octet-stream"
		}
		files["/"+name] = asset{data: data, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: reading embedded assets: " + err.Error()) // embedded at build time: cannot fail
	}
	files["/"] = files["/index.html"]
	files["/ops"] = files["/ops.html"] // the operators' page (admin API client)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := r.URL.Path
		if !strings.HasPrefix(name, "/") {
			name = "/" + name
		}
		a, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		if csp := pagePolicy[name]; csp != "" {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
		}
		if a.contentType == contentTypes[".js"] || a.contentType == contentTypes[".css"] {
			// Studios' pages load the player (/sdk/edgeplay-player.js, its modules and its
			// style) from the gateway: module scripts are fetched in CORS mode. Public code,
			// no credentials.
			h.Set("Access-Control-Allow-Origin", "*")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.data))
	})
}
