package lowering

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// OutputAdjoint hands the gradient of an operation's output (its adjoint, v) to the custom gradients of its
// inputs. GoMLX offers custom gradients only for single-input identities (graph.IdentityWithCustomGradient), so
// an operation with hand-written gradients wraps its inputs in such identities, which ignore the generic gradient
// they receive and compute their own from v, and wraps its output in Capture. Reverse-mode autodiff visits nodes
// from the last built to the first, so the output's identity records v before any input's gradient asks for it;
// the generic gradients, left unused, are pruned from the compiled graph.
type OutputAdjoint struct{ v *graph.Node }

// Capture returns y unchanged, recording its gradient when autodiff reaches it.
func (a *OutputAdjoint) Capture(y *graph.Node) *graph.Node {
	return graph.IdentityWithCustomGradient(y, func(_, v *graph.Node) *graph.Node {
		a.v = v
		return v
	})
}

// Get returns the captured output gradient.
func (a *OutputAdjoint) Get() *graph.Node {
	if a.v == nil {
		exceptions.Panicf("lowering: an input gradient was requested before its operation's output gradient")
	}
	return a.v
}
