package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgeplay/edgeplay/gameproc"
)

// The catalog file (--games FILE): JSON, documented in docs/SDK.md, "Catalog file". Parsing is
// strict: an unknown field, a value of the wrong type, trailing data or a value out of bounds
// is an error that names the game and the field, and the host does not start.

const (
	// maxCatalogSize bounds the catalog file.
	maxCatalogSize = 1 << 20
	// maxMemoryMB bounds memory_mb (1 TiB): more is a typo, and MiB → bytes must not overflow.
	maxMemoryMB = 1 << 20
)

// catalogFile is the file's top level. Entries stay raw until each is decoded on its own, so
// that an error can name its game.
type catalogFile struct {
	Games []json.RawMessage `json:"games"`
}

// catalogEntry is one game of the file. Zero values take the host's or gameproc's defaults.
type catalogEntry struct {
	ID      string            `json:"id"`
	Title   string            `json:"title"`
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	Dir     string            `json:"dir"`
	Width   int               `json:"width"`
	Height  int               `json:"height"`
	FPS     int               `json:"fps"`
	Warm    int               `json:"warm"`
	// MemoryMB is in MiB; CPUs in cores.
	MemoryMB int64   `json:"memory_mb"`
	CPUs     float64 `json:"cpus"`
	// Durations as Go writes them ("5s", "1m30s"); parsed here so an error names the field.
	StartTimeout string `json:"start_timeout"`
	ReadyTimeout string `json:"ready_timeout"`
	StallTimeout string `json:"stall_timeout"`
}

// readFile adds the games of the catalog file at path. Relative paths in it (command, dir)
// are relative to the file's directory.
func (c *catalog) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCatalogSize+1))
	if err != nil {
		return err
	}
	if len(b) > maxCatalogSize {
		return fmt.Errorf("the file is larger than %d bytes", maxCatalogSize)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	base := filepath.Dir(abs)
	var cf catalogFile
	if err := decodeStrict(b, &cf); err != nil {
		return jsonError(b, err, `the file must be one JSON object {"games": [...]}`)
	}
	if len(cf.Games) == 0 {
		return errors.New(`no games: the file must be {"games": [{"id": …, "command": …}, …]}`)
	}
	for i, raw := range cf.Games {
		var e catalogEntry
		if err := decodeStrict(raw, &e); err != nil {
			return fmt.Errorf("%s: %w", entryName(i, raw), jsonError(raw, err, `each game must be a JSON object {"id": …, "command": …}`))
		}
		s, err := e.spec()
		if err == nil {
			err = c.add(&s, path, base)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", entryName(i, raw), err)
		}
	}
	return nil
}

// spec turns the entry into a gameSpec, checking what only the file has (env, durations,
// memory); checkSpec checks the rest.
func (e *catalogEntry) spec() (gameSpec, error) {
	if e.ID == "" {
		return gameSpec{}, errors.New("id: missing")
	}
	if e.Command == "" {
		return gameSpec{}, errors.New("command: missing (the program's path)")
	}
	if e.MemoryMB < 0 || e.MemoryMB > maxMemoryMB {
		return gameSpec{}, fmt.Errorf("memory_mb %d: want 0 (no limit) up to %d", e.MemoryMB, maxMemoryMB)
	}
	env, err := envList(e.Env)
	if err != nil {
		return gameSpec{}, err
	}
	cmd := gameproc.Command{
		Path: e.Command, Args: e.Args, Env: env, Dir: e.Dir,
		Width: e.Width, Height: e.Height, FPS: e.FPS, Warm: e.Warm,
		MemoryLimit: e.MemoryMB << 20, CPULimit: e.CPUs,
	}
	for _, d := range []struct {
		name string
		text string
		dst  *time.Duration
	}{
		{"start_timeout", e.StartTimeout, &cmd.StartTimeout},
		{"ready_timeout", e.ReadyTimeout, &cmd.ReadyTimeout},
		{"stall_timeout", e.StallTimeout, &cmd.StallTimeout},
	} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil || v == 0 {
			return gameSpec{}, fmt.Errorf("%s %q: want a duration such as \"5s\" or \"1m30s\" (leave it out for the default)", d.name, d.text)
		}
		*d.dst = v
	}
	return gameSpec{id: e.ID, title: e.Title, cmd: cmd}, nil
}

// envList turns the entry's env into gameproc's "KEY=value" list, sorted by key. The game gets
// this environment and nothing of the host's.
func envList(env map[string]string) ([]string, error) {
	out := make([]string, 0, len(env))
	for k, v := range env {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return nil, fmt.Errorf("env: the name %q must be non-empty, without '=' or NUL", k)
		case k == "EDGEPLAY_FD":
			return nil, errors.New("env: EDGEPLAY_FD is set by the host (the link's descriptor)")
		case strings.IndexByte(v, 0) >= 0:
			return nil, fmt.Errorf("env: the value of %s holds a NUL byte", k)
		}
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

// resolveDir returns dir as an absolute path, relative to base, after checking it is a
// directory.
func resolveDir(dir, base string) (string, error) {
	if strings.IndexByte(dir, 0) >= 0 {
		return "", errors.New("the path holds a NUL byte")
	}
	if !filepath.IsAbs(dir) && base != "" {
		dir = filepath.Join(base, dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	return filepath.Abs(dir)
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields and anything
// after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("data after the JSON value")

// jsonError rewrites a decoding error of b for people: a syntax error gets its line and column,
// a type error names the field and the type wanted; shape says what the whole must look like.
func jsonError(b []byte, err error, shape string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(b, syn.Offset)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	case errors.As(err, &typ) && typ.Field == "":
		return errors.New(shape)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: want %s, not a JSON %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.EOF):
		return errors.New("empty: " + shape)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the JSON is cut short")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: ")) // unknown field: the message names it
}

// jsonKind names a Go kind as the JSON it decodes from.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int64":
		return "a whole number"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return kind
}

// position is the 1-based line and column of the byte a json.SyntaxError's Offset points
// after (the offending one).
func position(b []byte, off int64) (line, col int) {
	off = min(max(off-1, 0), int64(len(b))) // the offending byte's index
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// entryName names the i-th game of the file for an error: its number, and its id when it has
// one that can be read.
func entryName(i int, raw json.RawMessage) string {
	var e struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &e) == nil {
		if id, ok := e.ID.(string); ok && id != "" {
			return fmt.Sprintf("game %d (%.64q)", i+1, id)
		}
	}
	return fmt.Sprintf("game %d", i+1)
}
