package data

import (
	"fmt"
	"runtime"
	"sync"

	"rout/rng"
)

// Defaults of the built-in shapes dataset (the spec "shapes").
const (
	DefaultShapesSeed  = 1
	DefaultShapesTrain = 10000
	DefaultShapesTest  = 2000
)

// ShapesClasses are the shapes dataset's classes in label order.
var ShapesClasses = []string{"circle", "square", "triangle", "cross", "ring",
	"horizontal-bar", "vertical-bar", "diamond", "checker", "x-cross"}

// Shapes draws the built-in dataset: nTrain and nTest 3x32x32 images of ten shapes (see
// ShapesClasses), each with its own position, size, small rotation, stroke width, foreground
// colour, background (a flat colour or a gradient) and pixel noise. Labels cycle 0..9, so each
// class has the same number of examples (to within one).
//
// Image i of split s (0 train, 1 test) is a pure function of (seed, s, i): its draws come from
// the rng stream (KeyFromSeed(seed), rng.StreamData, s, i), and it is rendered in integer
// arithmetic only, so it is bit-identical on every machine and independent of the split sizes.
func Shapes(seed uint64, nTrain, nTest int) *Dataset {
	d := &Dataset{Name: "shapes", Source: fmt.Sprintf("shapes:%d", seed),
		Classes: append([]string{}, ShapesClasses...)}
	key := rng.KeyFromSeed(seed)
	for s, sp := range []*Split{&d.Train, &d.Test} {
		n := []int{nTrain, nTest}[s]
		*sp = Split{N: n, C: 3, H: shapeSize, W: shapeSize, Pixels: make([]uint8, n*3*shapeSize*shapeSize), Labels: make([]int32, n)}
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for k := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := k; i < n; i += workers {
					label := i % len(ShapesClasses)
					sp.Labels[i] = int32(label)
					drawShape(rng.NewStream(key, rng.StreamData, uint32(s), uint32(i)), label, sp.Image(i))
				}
			}()
		}
		wg.Wait()
	}
	return d
}

const shapeSize = 32

// Fixed point: positions are in quarter pixels (subsample centres at 1/4 and 3/4 of a pixel),
// rotated coordinates carry 14 more bits.
const (
	q        = 4 // quarter pixels per pixel
	rotShift = 14
)

// drawShape renders one example of class label into dst (3 planes of 32x32).
func drawShape(st *rng.Stream, label int, dst []uint8) {
	between := func(lo, hi int) int { return lo + st.Intn(hi-lo+1) }

	r4 := between(7*q, 12*q) // half-size of the shape, in quarter pixels
	cx := between(r4, shapeSize*q-r4)
	cy := between(r4, shapeSize*q-r4)
	// Rotation by up to about +-15 degrees: cos and sin from t = tan(angle/2) = k/1024 by the
	// rational parametrisation, in integers (exact everywhere).
	k := int64(between(-136, 136))
	den := int64(1024*1024) + k*k
	cosA := ((1024*1024 - k*k) << rotShift) / den
	sinA := ((2 * 1024 * k) << rotShift) / den
	thick := int64(between(56, 96)) // stroke width as a fraction of the half-size, /256

	// Background: a colour, or a gradient between two colours across x or y either way.
	var bg1, bg2 [3]int
	for c := range 3 {
		bg1[c] = st.Intn(256)
	}
	for c := range 3 {
		bg2[c] = st.Intn(256)
	}
	mode := st.Intn(5) // 0: flat, 1..4: gradient left-right, right-left, top-bottom, bottom-top
	// Foreground: a colour whose brightness differs clearly from the background's middle colour
	// (else black or white, whichever differs more), so every shape has visible edges.
	var mid, fg [3]int
	for c := range 3 {
		mid[c] = (bg1[c] + bg2[c]) / 2
	}
	if mode == 0 {
		mid = bg1
	}
	for try := 0; ; try++ {
		for c := range 3 {
			fg[c] = st.Intn(256)
		}
		if abs(luma(fg)-luma(mid)) >= 80 {
			break
		}
		if try == 15 {
			v := 0
			if luma(mid) < 128 {
				v = 255
			}
			fg = [3]int{v, v, v}
			break
		}
	}
	noise := between(2, 16) // amplitude of the uniform pixel noise

	rs := int64(r4) << rotShift
	th := rs * thick / 256
	plane := shapeSize * shapeSize
	for py := range shapeSize {
		for px := range shapeSize {
			cover := 0
			for sy := range 2 {
				for sx := range 2 {
					dx := int64(q*px + 1 + 2*sx - cx)
					dy := int64(q*py + 1 + 2*sy - cy)
					u := dx*cosA + dy*sinA
					v := dy*cosA - dx*sinA
					if inside(label, u, v, rs, th) {
						cover++
					}
				}
			}
			var p int
			switch mode {
			case 1:
				p = px
			case 2:
				p = shapeSize - 1 - px
			case 3:
				p = py
			case 4:
				p = shapeSize - 1 - py
			}
			w := st.Uint32() // 10 bits of noise for each channel
			for c := range 3 {
				bg := bg1[c]
				if mode != 0 {
					bg = (bg1[c]*(shapeSize-1-p) + bg2[c]*p) / (shapeSize - 1)
				}
				v := (bg*(4-cover) + fg[c]*cover) / 4
				v += (int(w>>(10*c)&1023) - 512) * noise / 512
				dst[c*plane+py*shapeSize+px] = uint8(min(255, max(0, v)))
			}
		}
	}
}

// inside says whether the point (u, v) of the shape's rotated frame belongs to shape label,
// for half-size rs and stroke width th (both in the frame's units).
func inside(label int, u, v, rs, th int64) bool {
	au, av := abs64(u), abs64(v)
	switch label {
	case 0: // circle
		return u*u+v*v <= rs*rs
	case 1: // square, of about the circle's area
		return max(au, av) <= rs*85/100
	case 2: // triangle pointing up (v grows downwards), base 1.9 rs, height 1.6 rs
		a := rs * 80 / 100
		return v >= -a && v <= a && 160*au <= 95*(v+a)
	case 3: // cross (+)
		return (au <= th/2 && av <= rs) || (av <= th/2 && au <= rs)
	case 4: // ring
		inner := rs - th
		d := u*u + v*v
		return d <= rs*rs && d >= inner*inner
	case 5: // horizontal bar
		return au <= rs && av <= th/2
	case 6: // vertical bar
		return av <= rs && au <= th/2
	case 7: // diamond
		return au+av <= rs
	case 8: // 3x3 checkerboard with its corners filled
		a := rs * 90 / 100
		if au > a || av > a {
			return false
		}
		cu, cv := (u+a)*3/(2*a+1), (v+a)*3/(2*a+1)
		return (cu+cv)%2 == 0
	default: // x-cross: the cross turned by 45 degrees (coordinates scaled by sqrt 2)
		d1, d2 := abs64(u+v), abs64(u-v)
		w, l := th*181/128/2, rs*181/128
		return (d1 <= w && d2 <= l) || (d2 <= w && d1 <= l)
	}
}

// luma is a colour's brightness (ITU-R BT.601 weights), 0..255.
func luma(c [3]int) int { return (299*c[0] + 587*c[1] + 114*c[2]) / 1000 }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
