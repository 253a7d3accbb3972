package unarchive

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/isaplay/isaplay/modules/internal/memo"
	"github.com/isaplay/isaplay/modules/internal/modtest"
)

// BenchmarkUnpack plans and applies a 64 MiB zip of 1,024 files (half text, half random bytes)
// into a fresh directory on the local connection.
func BenchmarkUnpack(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	var ms []member
	for i := 0; i < 1024; i++ {
		data := make([]byte, 64<<10)
		if i%2 == 0 {
			for j := range data {
				data[j] = byte('a' + rng.Intn(26))
			}
		} else {
			rng.Read(data)
		}
		ms = append(ms, member{name: fmt.Sprintf("pack/d%02d/f%04d.dat", i%32, i), mode: 0o644, data: data})
	}
	src := writeZip(b, b.TempDir(), ms)
	b.SetBytes(64 << 20)
	var plan, apply time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		listings = memo.New[*listing](2 * overlayTotalMax) // time the listing, not the cache
		dest := filepath.Join(b.TempDir(), "opt")
		h := modtest.Host(b)
		a := args(src, dest, "pack/d00/f0000.dat")
		start := time.Now()
		if _, err := (Module{}).Check(context.Background(), h.Planning(), a); err != nil {
			b.Fatal(err)
		}
		plan += time.Since(start)
		c, err := Module{}.Check(context.Background(), h, a)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := (Module{}).Apply(context.Background(), h, c); err != nil {
			b.Fatal(err)
		}
		apply += time.Since(start)
		b.StopTimer()
		os.RemoveAll(dest)
		b.StartTimer()
	}
	b.ReportMetric(float64(plan.Milliseconds())/float64(b.N), "plan-ms/op")
	b.ReportMetric(float64(apply.Milliseconds())/float64(b.N), "apply-ms/op")
}
