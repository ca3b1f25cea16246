package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
		{"demo taken", []string{"demo=" + exe}, "already defined"},
		{"duplicate", []string{"a=" + exe, "a=" + exe}, "already defined"},
		{"no command", []string{"a= "}, "no command"},
		{"missing", []string{"a=" + filepath.Join(dir, "nope")}, "no such file"},
		{"not executable", []string{"a=" + plain}, "permission denied"},
		{"directory", []string{"a=" + dir}, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := parseGames(tt.flags)
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

	specs, err := parseGames([]string{"mygame=" + exe + "  --level  3"})
	if err != nil {
		t.Fatal(err)
	}
	if s := specs[0]; s.id != "mygame" || s.path != exe || !slices.Equal(s.args, []string{"--level", "3"}) {
		t.Fatalf("parsed %+v", s)
	}
	games := gameCatalog(specs, slog.New(slog.DiscardHandler))
	if games["demo"] == nil || games["mygame"] == nil || len(games) != 2 {
		t.Fatalf("catalog %v", games)
	}
}
