package transforms

import (
	"math/rand/v2"
)

// Source is the randomness a random transform draws from. Rand is the usual one; tests inject recorded draws to
// check that given torch's draws a transform makes torchvision's choice.
type Source interface {
	// Uniform returns a float32 drawn uniformly from [lo, hi), as torch.empty(1).uniform_(lo, hi) does (and
	// torch.rand(1) for lo=0, hi=1).
	Uniform(lo, hi float32) float32
	// IntN returns an int drawn uniformly from [0, n), as torch.randint(0, n, (1,)) does.
	IntN(n int) int
}

// Rand is a Source on a PCG generator.
type Rand struct{ r *rand.Rand }

// NewRand returns the stream of sample index in the given epoch of a run seeded with seed. Each (seed, epoch,
// index) has its own stream, so a sample's random crop does not depend on which worker transforms it, nor when:
// the same seed gives the same epoch whatever the number of workers.
func NewRand(seed int64, epoch, index int) *Rand {
	hi := mix(uint64(seed) ^ mix(uint64(epoch)+0x632be59bd9b4e019))
	lo := mix(uint64(index) + 0x9e3779b97f4a7c15)
	return &Rand{rand.New(rand.NewPCG(hi, lo))}
}

// mix is SplitMix64's finaliser: it spreads consecutive inputs (epochs, indices) over unrelated generator states.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Uniform implements Source: lo + (hi-lo)·u in float32, u having 24 random bits (as torch's draws do).
func (r *Rand) Uniform(lo, hi float32) float32 {
	u := float32(r.r.Uint32()>>8) * (1.0 / (1 << 24))
	return u*(hi-lo) + lo
}

// IntN implements Source.
func (r *Rand) IntN(n int) int { return r.r.IntN(n) }
