// Package runtime is the canonical ABI's memory management for the
// bindings of `wit-bindgen go` (wasp's stand-in, see ../../go.mod):
// `cabi_realloc`, through which the host writes arguments into the Go
// heap, and the pinning that keeps that memory in place until the
// bindings have read it.
//
// It also owns when the garbage collector runs. The host calls
// cabi_realloc while it lowers arguments, and the component model forbids
// a call back into the host from there. A collection started by an
// allocation in cabi_realloc reads the clocks through WASI (Go's GC times
// its phases), which is such a call: the instance traps with "cannot leave
// component instance". So automatic collection is off (SetGCPercent(-1))
// and Unpin, the bindings' first call in every export that takes
// arguments, collects when enough was allocated since the last time. Only
// a plugin that allocates without bound inside one call can outgrow this;
// wasp's memory limit stops it and the instance is rebuilt.
package runtime

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"unsafe"
)

// minCollectBytes: never collect for less new allocation than this, like
// Go's own 4 MiB minimum heap target.
const minCollectBytes = 4 << 20

// emptyAlloc is the address given out for zero-byte allocations.
var emptyAlloc uint64

// argPinner holds what cabi_realloc handed to the host until Unpin.
var argPinner runtime.Pinner

var (
	samples = []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	allocsAtLastGC uint64
)

func init() {
	debug.SetGCPercent(-1)
}

// Allocate returns size bytes of Go heap aligned to align (at most 8),
// pinned by p so the collector neither frees nor moves them while only the
// host knows their address.
func Allocate(p *runtime.Pinner, size, align uintptr) unsafe.Pointer {
	words := (size + 7) / 8
	if words == 0 {
		words = 1
	}
	// []uint64 is 8-aligned; it holds no Go pointers, so the collector does
	// not scan the addresses the host writes into it.
	buf := make([]uint64, words)
	ptr := unsafe.Pointer(unsafe.SliceData(buf))
	p.Pin(ptr)
	return ptr
}

// Unpin releases what cabi_realloc allocated for the arguments the
// bindings have just read (they now hold their own references), then runs
// the collector if it is due (see the package comment).
func Unpin() {
	argPinner.Unpin()
	CollectIfDue()
}

// CollectIfDue runs a full collection when the heap allocated since the
// last one is at least the live heap after it (Go's default GOGC=100), and
// at least minCollectBytes. Call it only outside cabi_realloc.
func CollectIfDue() {
	metrics.Read(samples)
	allocs, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
	if allocs-allocsAtLastGC < max(live, minCollectBytes) {
		return
	}
	runtime.GC()
	metrics.Read(samples)
	allocsAtLastGC = samples[0].Value.Uint64()
}

// cabiRealloc is the canonical ABI's allocator; the host calls it to make
// room for arguments and for the results of imported functions.
//
//go:wasmexport cabi_realloc
func cabiRealloc(ptr unsafe.Pointer, oldSize, align, newSize uintptr) unsafe.Pointer {
	if newSize == 0 {
		// Any non-null, aligned address serves for zero bytes (a small
		// integer would be an invalid pointer to Go's stack scanner).
		return unsafe.Pointer(&emptyAlloc)
	}
	p := Allocate(&argPinner, newSize, align)
	if oldSize > 0 && ptr != nil {
		copy(unsafe.Slice((*byte)(p), newSize), unsafe.Slice((*byte)(ptr), min(oldSize, newSize)))
	}
	return p
}
