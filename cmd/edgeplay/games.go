package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/gameproto"
	"github.com/edgeplay/edgeplay/protocol"
)

// builtinGame is the game every host serves, beside those of --game and --games.
const builtinGame = "demo"

// maxGames bounds a host's games, the built-in one included: the matchmaker drops a
// heartbeat that lists more.
const maxGames = 256

// Bounds of a catalog entry's durations (docs/SDK.md, "Catalog file"); gameproc checks the
// ready and stall ones the same way, and takes any start timeout.
const (
	minStartTimeout = 100 * time.Millisecond
	maxStartTimeout = 60 * time.Second
	minReadyTimeout = time.Second
	maxReadyTimeout = 600 * time.Second
	minStallTimeout = 100 * time.Millisecond
	maxStallTimeout = 60 * time.Second
)

// gameFlags is the repeatable --game ID=COMMAND flag: a game that runs as its own process
// (docs/SDK.md). COMMAND is the program's path followed by its arguments, split at spaces;
// there is no quoting, so neither the path nor an argument can hold a space.
type gameFlags []string

func (g *gameFlags) String() string { return strings.Join(*g, " ") }

func (g *gameFlags) Set(v string) error {
	*g = append(*g, v)
	return nil
}

// gameSpec is one game of the host's catalog, from --game or from the --games file, checked:
// cmd.Path is absolute and every field is within gameproc's bounds. cmd.Logger is unset
// (gameCatalog sets it).
type gameSpec struct {
	id    string
	title string // for players; "" when none was given
	cmd   gameproc.Command
}

// parseGames reads the host's catalog: every --game, then the games of the catalog file (the
// --games flag; "" for none). Both go through the same checks (checkSpec), and an ID may be
// defined once across both.
func parseGames(flags []string, file string) ([]gameSpec, error) {
	c := newCatalog()
	for _, f := range flags {
		s, err := parseGameFlag(f)
		if err == nil {
			err = c.add(&s, "--game", "")
		}
		if err != nil {
			return nil, fmt.Errorf("--game %q: %w", f, err)
		}
	}
	if file != "" {
		if err := c.readFile(file); err != nil {
			return nil, fmt.Errorf("--games %s: %w", file, err)
		}
	}
	return c.specs, nil
}

// parseGameFlag parses one --game ID=COMMAND; the catalog checks the result.
func parseGameFlag(f string) (gameSpec, error) {
	id, command, ok := strings.Cut(f, "=")
	if !ok || !protocol.ValidName(id) {
		return gameSpec{}, errors.New("want ID=COMMAND, ID of letters, digits, '-' and '_'")
	}
	fields := strings.Fields(command)
	if len(fields) == 0 {
		return gameSpec{}, errors.New("no command")
	}
	return gameSpec{id: id, cmd: gameproc.Command{Path: fields[0], Args: fields[1:]}}, nil
}

// catalog collects checked specs and where each ID came from.
type catalog struct {
	specs []gameSpec
	from  map[string]string // game id → where it is defined
}

func newCatalog() *catalog {
	return &catalog{from: map[string]string{}}
}

// add checks s (checkSpec) and adds it. where says where it is defined, for a duplicate's
// error; base is the directory that relative paths start from ("" for the working
// directory).
func (c *catalog) add(s *gameSpec, where, base string) error {
	if s.id == builtinGame {
		return fmt.Errorf("id %q: the built-in game has it; choose another", s.id)
	}
	if prev, ok := c.from[s.id]; ok {
		return fmt.Errorf("the game %q is already defined, by %s", s.id, prev)
	}
	if len(c.from)+1 >= maxGames { // the built-in game is one
		return fmt.Errorf("more than %d games, the built-in one included", maxGames)
	}
	if err := checkSpec(s, base); err != nil {
		return err
	}
	c.from[s.id] = where
	c.specs = append(c.specs, *s)
	return nil
}

// checkSpec checks every field of s and makes its paths absolute. The program must exist and
// be executable: a path with a '/' is taken relative to base (or the working directory), a
// bare name is looked up in $PATH. Errors name the field; the caller names the game.
func checkSpec(s *gameSpec, base string) error {
	if !protocol.ValidName(s.id) {
		return fmt.Errorf("id %q: want 1-%d characters of a-z, 0-9, '-' and '_'", s.id, protocol.MaxNameSize)
	}
	if s.title != "" && !protocol.ValidTitle(s.title) {
		return fmt.Errorf("title %q: want 1-%d bytes of UTF-8 without control characters", s.title, protocol.MaxTitleSize)
	}
	c := &s.cmd
	path, err := resolveProgram(c.Path, base)
	if err != nil {
		return fmt.Errorf("command: %w", err)
	}
	c.Path = path
	for i, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("args[%d]: holds a NUL byte", i)
		}
	}
	if c.Dir != "" {
		if c.Dir, err = resolveDir(c.Dir, base); err != nil {
			return fmt.Errorf("dir: %w", err)
		}
	}
	switch {
	case (c.Width == 0) != (c.Height == 0):
		return fmt.Errorf("width %d, height %d: give both, or neither for the host's size", c.Width, c.Height)
	case c.Width != 0 && (c.Width < gameproto.MinWidth || c.Width > gameproto.MaxWidth || c.Width%2 != 0):
		return fmt.Errorf("width %d: want an even number %d..%d, or 0 for the host's", c.Width, gameproto.MinWidth, gameproto.MaxWidth)
	case c.Height != 0 && (c.Height < gameproto.MinHeight || c.Height > gameproto.MaxHeight || c.Height%2 != 0):
		return fmt.Errorf("height %d: want an even number %d..%d, or 0 for the host's", c.Height, gameproto.MinHeight, gameproto.MaxHeight)
	case c.FPS < 0 || c.FPS > gameproto.MaxFPS:
		return fmt.Errorf("fps %d: want 1..%d, or 0 for the host's", c.FPS, gameproto.MaxFPS)
	case c.Warm < 0 || c.Warm > gameproc.MaxWarm:
		return fmt.Errorf("warm %d: want 0..%d", c.Warm, gameproc.MaxWarm)
	case c.MemoryLimit < 0:
		return fmt.Errorf("memory limit %d bytes: want 0 (none) or more", c.MemoryLimit)
	case !(c.CPULimit >= 0 && c.CPULimit <= maxCPUs): // also refuses NaN
		return fmt.Errorf("cpus %v: want 0 (no limit) up to %d", c.CPULimit, maxCPUs)
	}
	for _, d := range []struct {
		name     string
		v        time.Duration
		min, max time.Duration
	}{
		{"start_timeout", c.StartTimeout, minStartTimeout, maxStartTimeout},
		{"ready_timeout", c.ReadyTimeout, minReadyTimeout, maxReadyTimeout},
		{"stall_timeout", c.StallTimeout, minStallTimeout, maxStallTimeout},
	} {
		if d.v != 0 && (d.v < d.min || d.v > d.max) {
			return fmt.Errorf("%s %v: want %v..%v, or none for the default", d.name, d.v, d.min, d.max)
		}
	}
	return c.Validate() // what gameproc itself refuses (e.g. a CPU limit under 0.01 cores)
}

// maxCPUs bounds a game's CPU limit, in cores: more is a typo.
const maxCPUs = 1024

// resolveProgram returns the program's absolute path after checking that it exists and is
// executable. A path with a '/' is relative to base (the working directory when base is
// ""); a bare name is looked up in $PATH.
func resolveProgram(prog, base string) (string, error) {
	if prog == "" {
		return "", errors.New("no program")
	}
	if strings.IndexByte(prog, 0) >= 0 {
		return "", errors.New("the path holds a NUL byte")
	}
	if strings.ContainsRune(prog, '/') && !filepath.IsAbs(prog) && base != "" {
		prog = filepath.Join(base, prog)
	}
	path, err := exec.LookPath(prog)
	if errors.Is(err, exec.ErrDot) {
		err = nil // the bare name is in a relative $PATH entry; it is what the user asked for
	}
	if err != nil {
		return "", err
	}
	return filepath.Abs(path)
}

// hostGames is a host's catalog, ready to run: the factories, the titles and the launchers
// that keep warm pools (Close stops them).
type hostGames struct {
	games     map[string]game.Factory
	titles    map[string]string
	launchers []*gameproc.Launcher
}

// gameCatalog is a host's games: the built-in demo and each spec as an out-of-process game
// (a gameproc.Launcher, which keeps the spec's warm pool for streams of stream, the host's
// size and rate) whose log lines go to log with the game's ID.
func gameCatalog(specs []gameSpec, log *slog.Logger, stream game.Config) (*hostGames, error) {
	hg := &hostGames{games: map[string]game.Factory{builtinGame: demo.Factory}, titles: map[string]string{}}
	for _, s := range specs {
		cmd := s.cmd
		cmd.ID, cmd.Logger = s.id, log.With("game_id", s.id)
		l, err := gameproc.NewLauncher(cmd, stream)
		if err != nil {
			hg.Close()
			return nil, fmt.Errorf("game %q: %w", s.id, err)
		}
		hg.launchers = append(hg.launchers, l)
		hg.games[s.id] = l.Factory()
		if s.title != "" {
			hg.titles[s.id] = s.title
		}
	}
	return hg, nil
}

// Close stops the warm pools' idle processes.
func (hg *hostGames) Close() {
	for _, l := range hg.launchers {
		l.Close()
	}
}
