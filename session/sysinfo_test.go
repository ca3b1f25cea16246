package session

import "testing"

func TestParseNvidiaSMI(t *testing.T) {
	got := parseNvidiaSMI("NVIDIA H100 80GB HBM3, 37\nNVIDIA H100 80GB HBM3, 0\n")
	if len(got) != 2 || got[0].Model != "NVIDIA H100 80GB HBM3" || got[0].Utilization != 37 || got[1].Utilization != 0 {
		t.Fatalf("parsed %+v", got)
	}
	if got := parseNvidiaSMI(""); len(got) != 0 {
		t.Fatalf("empty output parsed as %+v", got)
	}
	if l := cpuLoad(); l < 0 {
		t.Fatalf("cpu load %v", l)
	}
}
