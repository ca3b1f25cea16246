package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/edgeplay/edgeplay/game"
	"github.com/edgeplay/edgeplay/game/demo"
	"github.com/edgeplay/edgeplay/gameproc"
	"github.com/edgeplay/edgeplay/protocol"
)

// builtinGame is the game every host serves, beside those of --game.
const builtinGame = "demo"

// gameFlags is the repeatable --game ID=COMMAND flag: a game that runs as its own process
// (docs/SDK.md). COMMAND is the program's path followed by its arguments, split at spaces;
// there is no quoting, so neither the path nor an argument can hold a space.
type gameFlags []string

func (g *gameFlags) String() string { return strings.Join(*g, " ") }

func (g *gameFlags) Set(v string) error {
	*g = append(*g, v)
	return nil
}

// gameSpec is one parsed --game.
type gameSpec struct {
	id   string
	path string // absolute
	args []string
}

// parseGames checks every --game: a valid, unused ID and a program that exists and is
// executable (a bare name is looked up in $PATH). The path is made absolute, so the game
// does not depend on the host's working directory.
func parseGames(flags []string) ([]gameSpec, error) {
	seen := map[string]bool{builtinGame: true}
	specs := make([]gameSpec, 0, len(flags))
	for _, f := range flags {
		id, command, ok := strings.Cut(f, "=")
		if !ok || !protocol.ValidName(id) {
			return nil, fmt.Errorf("--game %q: want ID=COMMAND, ID of letters, digits, '-' and '_'", f)
		}
		if seen[id] {
			return nil, fmt.Errorf("--game %q: the game %q is already defined", f, id)
		}
		seen[id] = true
		fields := strings.Fields(command)
		if len(fields) == 0 {
			return nil, fmt.Errorf("--game %q: no command", f)
		}
		path, err := exec.LookPath(fields[0])
		if errors.Is(err, exec.ErrDot) {
			err = nil // "./game" is what the user wrote; LookPath only refuses it for a bare name
		}
		if err != nil {
			return nil, fmt.Errorf("--game %q: %w", f, err)
		}
		if path, err = filepath.Abs(path); err != nil {
			return nil, fmt.Errorf("--game %q: %w", f, err)
		}
		specs = append(specs, gameSpec{id: id, path: path, args: fields[1:]})
	}
	return specs, nil
}

// gameCatalog is a host's games: the built-in demo and each spec as an out-of-process game
// whose log lines go to log with the game's ID.
func gameCatalog(specs []gameSpec, log *slog.Logger) map[string]game.Factory {
	games := map[string]game.Factory{builtinGame: demo.Factory}
	for _, s := range specs {
		games[s.id] = gameproc.Factory(gameproc.Command{
			Path: s.path, Args: s.args, Logger: log.With("game_id", s.id),
		})
	}
	return games
}
