package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeplay/edgeplay/game"
)

func TestParseGames(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "mygame")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "notexec")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		flags []string
		want  string // an error that mentions this; "" = no error
	}{
		{"none", nil, ""},
		{"one", []string{"mygame=" + exe}, ""},
		{"with arguments", []string{"mygame=" + exe + " --level 3"}, ""},
		{"two", []string{"a=" + exe, "b=" + exe}, ""},
		{"no equals", []string{exe}, "want ID=COMMAND"},
		{"bad id", []string{"my game=" + exe}, "want ID=COMMAND"},
		{"demo taken", []string{"demo=" + exe}, "the built-in game has it"},
		{"duplicate", []string{"a=" + exe, "a=" + exe}, `"a" is already defined, by --game`},
		{"no command", []string{"a= "}, "no command"},
		{"missing", []string{"a=" + filepath.Join(dir, "nope")}, "no such file"},
		{"not executable", []string{"a=" + plain}, "permission denied"},
		{"directory", []string{"a=" + dir}, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := parseGames(tt.flags, "")
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(specs) != len(tt.flags) {
					t.Fatalf("%d games, want %d", len(specs), len(tt.flags))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one that mentions %q", err, tt.want)
			}
		})
	}

	specs, err := parseGames([]string{"mygame=" + exe + "  --level  3"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := specs[0]; s.id != "mygame" || s.cmd.Path != exe || !slices.Equal(s.cmd.Args, []string{"--level", "3"}) {
		t.Fatalf("parsed %+v", s)
	}
	// A relative path is made absolute against the working directory.
	t.Chdir(dir)
	specs, err = parseGames([]string{"mygame=./mygame"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if specs[0].cmd.Path != exe {
		t.Fatalf("path %q, want %q", specs[0].cmd.Path, exe)
	}
	games := testCatalog(t, specs)
	if games["demo"] == nil || games["mygame"] == nil || len(games) != 2 {
		t.Fatalf("catalog %v", games)
	}
}

// testCatalog is gameCatalog's factories for specs at 1280x720@60; the warm pools stop when
// the test ends.
func testCatalog(t *testing.T, specs []gameSpec) map[string]game.Factory {
	t.Helper()
	hg, err := gameCatalog(specs, slog.New(slog.DiscardHandler), game.Config{Width: 1280, Height: 720, FPS: 60})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hg.Close)
	return hg.games
}
