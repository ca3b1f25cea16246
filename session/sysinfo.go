package session

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/edgeplay/edgeplay/protocol"
)

// cpuLoad is the 1-minute load average per CPU (Linux), or 0 where unknown.
func cpuLoad() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0
	}
	return v / float64(runtime.NumCPU())
}

// gpus asks nvidia-smi, when the host has it, for each GPU's model and utilisation.
func gpus(ctx context.Context) []protocol.GPU {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu=name,utilization.gpu", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil
	}
	return parseNvidiaSMI(string(out))
}

func parseNvidiaSMI(out string) []protocol.GPU {
	var gs []protocol.GPU
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, util, ok := strings.Cut(line, ",")
		if !ok {
			continue
		}
		u, _ := strconv.ParseFloat(strings.TrimSpace(util), 64)
		gs = append(gs, protocol.GPU{Model: strings.TrimSpace(name), Utilization: u})
	}
	return gs
}
