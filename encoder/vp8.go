package encoder

// VP8 settings computed in Go; the rest are fixed in vp8.c. doc.go says why each.

// defaultVP8CPUUsed is libvpx's speed for VP8: negative is a fixed speed (a positive value
// lets libvpx pick a speed from its own timing of earlier frames, which a shared machine
// makes erratic). Measured with BenchmarkVP8Speed, doc.go.
const defaultVP8CPUUsed = -10

func vp8CPUUsed(t tuning) int {
	if t.vp8CPUUsed != 0 {
		return t.vp8CPUUsed
	}
	return defaultVP8CPUUsed
}

// vp8MaxIntraPct caps libvpx's target for a keyframe, in per cent of an average frame: twice
// the rate-control buffer, and never more than 100 ms of the link. (A cap of one buffer made
// the keyframe so blurry that the next frame, which libvpx sizes like the frames before the
// keyframe, spent about three frames repairing it; doc.go.)
func vp8MaxIntraPct(fps int, vbvFrames float64) int {
	frames := min(2*vbvFrames, float64(fps)/10)
	return max(int(frames*100), 100)
}
