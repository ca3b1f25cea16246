// Command studio is an example of a game studio's site on edgeplay (docs/STUDIO.md): a tiny
// backend that mints join tokens with the studio's API key, and a page that embeds the
// player (<edgeplay-player>) served by the gateway, on the studio's own origin.
//
//	EDGEPLAY_STUDIO_KEY=ep_live_… studio --gateway http://localhost:8080 --game demo --addr :9000
//
// The API key stays here, in the backend: the page asks /api/token for a token, and this
// decides who the player is (here: a guest id per press of Play; a real site would use its
// own login) before asking the gateway for a token for that player.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

//go:embed index.html
var page embed.FS

func main() {
	addr := flag.String("addr", ":9000", "listen address of the studio's site")
	gateway := flag.String("gateway", "http://localhost:8080", "the edgeplay gateway's base URL (the players' and the API's)")
	game := flag.String("game", "demo", "the game the page plays")
	flag.Parse()
	key := os.Getenv("EDGEPLAY_STUDIO_KEY")
	if key == "" {
		log.Fatal("set EDGEPLAY_STUDIO_KEY to the studio's API key (edgectl studios create prints it)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, strings.TrimRight(*gateway, "/"), *game, key); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, gateway, game, key string) error {
	tmpl, err := template.ParseFS(page, "index.html")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = tmpl.Execute(w, map[string]string{"Gateway": gateway, "Game": game})
	})
	client := &http.Client{Timeout: 10 * time.Second}
	mux.HandleFunc("POST /api/token", func(w http.ResponseWriter, r *http.Request) {
		// A real site knows its player from its login; this example makes a guest.
		var b [6]byte
		_, _ = rand.Read(b[:])
		player := "guest-" + hex.EncodeToString(b[:])
		tok, err := mint(r.Context(), client, gateway, key, game, player)
		if err != nil {
			log.Printf("mint for %s: %v", player, err)
			http.Error(w, "could not get a join token: "+err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "player": player})
	})
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("studio page: http://%s/\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// mint asks the gateway for a join token for player (POST /v1/studio/tokens).
func mint(ctx context.Context, c *http.Client, gateway, key, game, player string) (string, error) {
	body, _ := json.Marshal(map[string]any{"game": game, "player_id": player, "ttl_s": 120})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/v1/studio/tokens", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	var out struct {
		Token   string `json:"token"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("gateway answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if resp.StatusCode != http.StatusOK || out.Token == "" {
		return "", fmt.Errorf("%s: %s", out.Code, out.Message)
	}
	return out.Token, nil
}
