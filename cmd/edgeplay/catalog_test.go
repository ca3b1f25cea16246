package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeplay/edgeplay/gameproc"
)

// catalogDir is a directory with a catalog's programs: game (executable), plain (not
// executable), assets/ (a directory) and notes.txt (a file).
func catalogDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"game": 0o755, "plain": 0o644, "notes.txt": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeCatalog writes body as dir/games.json and returns its path.
func writeCatalog(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "games.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCatalogFile(t *testing.T) {
	dir := catalogDir(t)
	t.Chdir(t.TempDir()) // relative paths must start from the file's directory, not here
	path := writeCatalog(t, dir, `{"games": [
		{"id": "paddle", "title": "Paddle", "command": "./game", "args": ["--level", "3"],
		 "env": {"LANG": "C.UTF-8", "A": "x=y"}, "dir": "assets",
		 "width": 1280, "height": 720, "fps": 60, "warm": 2, "memory_mb": 512, "cpus": 1.5,
		 "start_timeout": "5s", "ready_timeout": "1m30s", "stall_timeout": "500ms"},
		{"id": "bare", "command": "sh"},
		{"id": "absolute", "command": "`+filepath.Join(dir, "game")+`", "args": []}
	]}`)
	specs, err := parseGames(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 {
		t.Fatalf("%d games: %+v", len(specs), specs)
	}
	want := gameproc.Command{
		Path: filepath.Join(dir, "game"), Args: []string{"--level", "3"},
		Env: []string{"A=x=y", "LANG=C.UTF-8"}, Dir: filepath.Join(dir, "assets"),
		StartTimeout: 5 * time.Second, ReadyTimeout: 90 * time.Second, StallTimeout: 500 * time.Millisecond,
		Width: 1280, Height: 720, FPS: 60, Warm: 2, MemoryLimit: 512 << 20, CPULimit: 1.5,
	}
	if s := specs[0]; s.id != "paddle" || s.title != "Paddle" || !reflect.DeepEqual(s.cmd, want) {
		t.Fatalf("parsed %q %q %+v\nwant %+v", s.id, s.title, s.cmd, want)
	}
	if s := specs[1]; s.id != "bare" || !filepath.IsAbs(s.cmd.Path) || filepath.Base(s.cmd.Path) != "sh" || s.cmd.Dir != "" || s.title != "" {
		t.Fatalf("a bare name is looked up in $PATH: %+v", s)
	}
	if s := specs[2]; s.cmd.Path != want.Path || s.cmd.Width != 0 || s.cmd.Warm != 0 || s.cmd.StallTimeout != 0 {
		t.Fatalf("an absolute path, defaults: %+v", s)
	}

	games := testCatalog(t, specs)
	for _, id := range []string{"demo", "paddle", "bare", "absolute"} {
		if games[id] == nil {
			t.Fatalf("catalog %v lacks %q", games, id)
		}
	}
	if len(games) != 4 {
		t.Fatalf("catalog of %d games", len(games))
	}
}

// TestCatalogFileRejected: every way a catalog can be wrong is an error that names the game
// and the field.
func TestCatalogFileRejected(t *testing.T) {
	dir := catalogDir(t)
	game := func(fields string) string {
		return `{"games": [{"id": "paddle", "command": "./game"` + fields + `}]}`
	}
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty file", ``, "empty"},
		{"syntax error", "{\"games\": [\n  {\"id\": \"paddle\",,}\n]}", "line 2, column 19"},
		{"syntax error on the first line", `{"games": x}`, "line 1, column 11"},
		{"cut short", `{"games": [`, "the JSON is cut short"},
		{"an array", `[{"id": "paddle", "command": "./game"}]`, `must be one JSON object {"games"`},
		{"data after", game(``) + ` {}`, "data after the JSON value"},
		{"unknown top-level field", `{"games": [{"id": "paddle", "command": "./game"}], "version": 1}`, `unknown field "version"`},
		{"no games", `{"games": []}`, "no games"},
		{"games missing", `{}`, "no games"},
		{"game not an object", `{"games": [1]}`, "game 1: each game must be a JSON object"},
		{"null game", `{"games": [null]}`, "game 1: id: missing"},
		{"unknown field", game(`, "widht": 1280`), `game 1 ("paddle"): unknown field "widht"`},
		{"wrong type", game(`, "width": "1280"`), `game 1 ("paddle"): width: want a whole number, not a JSON string`},
		{"fraction", game(`, "fps": 59.94`), `game 1 ("paddle"): fps: want a whole number, not a JSON number`},
		{"args not strings", game(`, "args": [1]`), `game 1 ("paddle"): args`},
		{"id missing", `{"games": [{"command": "./game"}]}`, "game 1: id: missing"},
		{"id not a string", `{"games": [{"id": 7, "command": "./game"}]}`, "game 1: id: want a string, not a JSON number"},
		{"id invalid", `{"games": [{"id": "Paddle", "command": "./game"}]}`, `game 1 ("Paddle"): id "Paddle": want 1-64 characters`},
		{"id demo", `{"games": [{"id": "demo", "command": "./game"}]}`, `game 1 ("demo"): id "demo": the built-in game has it`},
		{
			"id twice", `{"games": [{"id": "paddle", "command": "./game"}, {"id": "paddle", "command": "./game"}]}`,
			`game 2 ("paddle"): the game "paddle" is already defined, by ` + filepath.Join(dir, "games.json"),
		},
		{"command missing", `{"games": [{"id": "paddle"}]}`, `game 1 ("paddle"): command: missing`},
		{"command not found", `{"games": [{"id": "paddle", "command": "./nope"}]}`, `game 1 ("paddle"): command: exec: "` + filepath.Join(dir, "nope") + `"`},
		{"command not executable", `{"games": [{"id": "paddle", "command": "./plain"}]}`, `game 1 ("paddle"): command: exec: "` + filepath.Join(dir, "plain") + `": permission denied`},
		{"command a directory", `{"games": [{"id": "paddle", "command": "./assets"}]}`, `game 1 ("paddle"): command: exec: "` + filepath.Join(dir, "assets") + `": is a directory`},
		{"command not in PATH", `{"games": [{"id": "paddle", "command": "no-such-edgeplay-game"}]}`, `game 1 ("paddle"): command: exec: "no-such-edgeplay-game": executable file not found in $PATH`},
		{"args with NUL", game(`, "args": ["a\u0000b"]`), `game 1 ("paddle"): args[0]: holds a NUL byte`},
		{"env name with =", game(`, "env": {"A=B": "c"}`), `game 1 ("paddle"): env: the name "A=B"`},
		{"env empty name", game(`, "env": {"": "c"}`), `game 1 ("paddle"): env: the name ""`},
		{"env EDGEPLAY_FD", game(`, "env": {"EDGEPLAY_FD": "4"}`), `game 1 ("paddle"): env: EDGEPLAY_FD is set by the host`},
		{"env value with NUL", game(`, "env": {"A": "b\u0000"}`), `game 1 ("paddle"): env: the value of A holds a NUL byte`},
		{"dir missing", game(`, "dir": "nowhere"`), `game 1 ("paddle"): dir: stat ` + filepath.Join(dir, "nowhere")},
		{"dir a file", game(`, "dir": "notes.txt"`), `game 1 ("paddle"): dir: ` + filepath.Join(dir, "notes.txt") + " is not a directory"},
		{"title invalid", game(`, "title": "Pad\ndle"`), `game 1 ("paddle"): title "Pad\ndle": want 1-64 bytes`},
		{"title too long", game(`, "title": "` + strings.Repeat("P", 65) + `"`), `game 1 ("paddle"): title`},
		{"title blank", game(`, "title": "  "`), `game 1 ("paddle"): title "  "`},
		{"width odd", game(`, "width": 1279, "height": 720`), `game 1 ("paddle"): width 1279: want an even number 16..7680, or 0 for the host's`},
		{"width small", game(`, "width": 8, "height": 720`), `game 1 ("paddle"): width 8`},
		{"width large", game(`, "width": 7682, "height": 720`), `game 1 ("paddle"): width 7682`},
		{"width negative", game(`, "width": -2, "height": 720`), `game 1 ("paddle"): width -2`},
		{"width alone", game(`, "width": 1280`), `game 1 ("paddle"): width 1280, height 0: give both`},
		{"height alone", game(`, "height": 720`), `game 1 ("paddle"): width 0, height 720: give both`},
		{"height odd", game(`, "width": 1280, "height": 721`), `game 1 ("paddle"): height 721: want an even number 16..4320`},
		{"height large", game(`, "width": 1280, "height": 4322`), `game 1 ("paddle"): height 4322`},
		{"fps negative", game(`, "fps": -1`), `game 1 ("paddle"): fps -1: want 1..240, or 0 for the host's`},
		{"fps large", game(`, "fps": 241`), `game 1 ("paddle"): fps 241`},
		{"warm negative", game(`, "warm": -1`), `game 1 ("paddle"): warm -1: want 0..16`},
		{"warm large", game(`, "warm": 17`), `game 1 ("paddle"): warm 17: want 0..16`},
		{"memory negative", game(`, "memory_mb": -1`), `game 1 ("paddle"): memory_mb -1: want 0 (no limit) up to 1048576`},
		{"memory huge", game(`, "memory_mb": 9007199254740993`), `game 1 ("paddle"): memory_mb 9007199254740993`},
		{"cpus negative", game(`, "cpus": -0.5`), `game 1 ("paddle"): cpus -0.5: want 0 (no limit) up to 1024`},
		{"cpus huge", game(`, "cpus": 2000`), `game 1 ("paddle"): cpus 2000`},
		{"cpus too few", game(`, "cpus": 0.005`), `game 1 ("paddle"): gameproc: cpu limit 0.005 cores, want 0 (none) or at least 0.01`},
		{"start timeout not a duration", game(`, "start_timeout": "fast"`), `game 1 ("paddle"): start_timeout "fast": want a duration such as "5s"`},
		{"start timeout a number", game(`, "start_timeout": 5`), `game 1 ("paddle"): start_timeout: want a string, not a JSON number`},
		{"start timeout zero", game(`, "start_timeout": "0s"`), `game 1 ("paddle"): start_timeout "0s"`},
		{"start timeout short", game(`, "start_timeout": "10ms"`), `game 1 ("paddle"): start_timeout 10ms: want 100ms..1m0s`},
		{"start timeout long", game(`, "start_timeout": "2m"`), `game 1 ("paddle"): start_timeout 2m0s`},
		{"start timeout negative", game(`, "start_timeout": "-5s"`), `game 1 ("paddle"): start_timeout -5s`},
		{"ready timeout short", game(`, "ready_timeout": "500ms"`), `game 1 ("paddle"): ready_timeout 500ms: want 1s..10m0s`},
		{"ready timeout long", game(`, "ready_timeout": "11m"`), `game 1 ("paddle"): ready_timeout 11m0s`},
		{"stall timeout short", game(`, "stall_timeout": "50ms"`), `game 1 ("paddle"): stall_timeout 50ms: want 100ms..1m0s`},
		{"stall timeout long", game(`, "stall_timeout": "61s"`), `game 1 ("paddle"): stall_timeout 1m1s`},
		{
			"second game wrong", `{"games": [{"id": "paddle", "command": "./game"}, {"id": "chess", "command": "./game", "fps": 500}]}`,
			`game 2 ("chess"): fps 500`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeCatalog(t, dir, tt.body)
			specs, err := parseGames(nil, path)
			if err == nil {
				t.Fatalf("accepted: %+v", specs)
			}
			if prefix := "--games " + path + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error %q does not start with %q", err, prefix)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestCatalogFileUnreadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := parseGames(nil, filepath.Join(dir, "none.json")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a missing file: %v", err)
	}
	big := writeCatalog(t, dir, `{"games": []}`+strings.Repeat(" ", maxCatalogSize))
	if _, err := parseGames(nil, big); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Fatalf("a file over the limit: %v", err)
	}
	if _, err := parseGames(nil, dir); err == nil {
		t.Fatal("a directory as the catalog: no error")
	}
}

// TestGameAndGames: --game and --games add up, through the same checks, and an id is
// defined once across both.
func TestGameAndGames(t *testing.T) {
	dir := catalogDir(t)
	exe := filepath.Join(dir, "game")
	path := writeCatalog(t, dir, `{"games": [{"id": "paddle", "command": "./game", "warm": 1}, {"id": "chess", "command": "./game"}]}`)

	specs, err := parseGames([]string{"racer=" + exe + " --fast"}, path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range specs {
		ids = append(ids, s.id)
		if s.cmd.Path != exe {
			t.Fatalf("%s: path %q", s.id, s.cmd.Path)
		}
	}
	if strings.Join(ids, " ") != "racer paddle chess" || specs[0].cmd.Args[0] != "--fast" || specs[1].cmd.Warm != 1 {
		t.Fatalf("specs %+v", specs)
	}
	if n := len(testCatalog(t, specs)); n != 4 {
		t.Fatalf("catalog of %d games, want demo and 3", n)
	}

	_, err = parseGames([]string{"chess=" + exe}, path)
	if want := `--games ` + path + `: game 2 ("chess"): the game "chess" is already defined, by --game`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	_, err = parseGames([]string{"bad=" + filepath.Join(dir, "plain")}, path)
	if err == nil || !strings.HasPrefix(err.Error(), `--game "bad=`) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("a bad --game beside a good file: %v", err)
	}
}

func TestGamesFlag(t *testing.T) {
	dir := catalogDir(t)
	bad := writeCatalog(t, dir, `{"games": [{"id": "paddle", "command": "./game", "fps": 0.5}]}`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"for a gateway", []string{"gateway", "--games", bad}, "--games is for up and host"},
		{"for a matchmaker", []string{"matchmaker", "--games", bad}, "--games is for up and host"},
		{"bad file on a host", []string{"host", "--games", bad}, "--games " + bad + `: game 1 ("paddle"): fps`},
		{"bad file on up", []string{"up", "--games", bad}, "--games " + bad + `: game 1 ("paddle"): fps`},
		{"missing file", []string{"host", "--games", filepath.Join(dir, "none.json")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(tt.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one that mentions %q", err, tt.want)
			}
		})
	}
}

// TestCatalogMaxGames: a host offers at most maxGames games, the built-in one included (the
// matchmaker drops a heartbeat that lists more).
func TestCatalogMaxGames(t *testing.T) {
	dir := catalogDir(t)
	entries := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"id": "g` + strconv.Itoa(i) + `", "command": "./game"}`)
		}
		return `{"games": [` + b.String() + `]}`
	}
	specs, err := parseGames(nil, writeCatalog(t, dir, entries(maxGames-1)))
	if err != nil || len(specs) != maxGames-1 {
		t.Fatalf("%d games: %v", len(specs), err)
	}
	_, err = parseGames(nil, writeCatalog(t, dir, entries(maxGames)))
	if err == nil || !strings.Contains(err.Error(), `game 256 ("g255"): more than 256 games`) {
		t.Fatalf("one too many: %v", err)
	}
}
