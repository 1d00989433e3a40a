// Package types holds the WIT option, result and unit types that the
// bindings of `wit-bindgen go` use (wasp's stand-in, see ../../go.mod).
package types

// Unit is WIT's empty payload, as in result<_, string>.
type Unit struct{}

// The tags the bindings switch on when they lower an option or a result.
const (
	OptionNone uint8 = 0
	OptionSome uint8 = 1
	ResultOk   uint8 = 0
	ResultErr  uint8 = 1
)

// Option is WIT's option<T>.
type Option[T any] struct {
	some  bool
	value T
}

// None is an option without a value.
func None[T any]() Option[T] { return Option[T]{} }

// Some is an option holding v.
func Some[T any](v T) Option[T] { return Option[T]{some: true, value: v} }

// IsSome says whether the option holds a value.
func (o Option[T]) IsSome() bool { return o.some }

// IsNone says whether the option is empty.
func (o Option[T]) IsNone() bool { return !o.some }

// Some is the value; the zero value of T for an empty option.
func (o Option[T]) Some() T { return o.value }

// Tag is OptionSome or OptionNone.
func (o Option[T]) Tag() uint8 {
	if o.some {
		return OptionSome
	}
	return OptionNone
}

// Result is WIT's result<T, E>.
type Result[T, E any] struct {
	isErr bool
	ok    T
	err   E
}

// Ok is a successful result.
func Ok[T, E any](v T) Result[T, E] { return Result[T, E]{ok: v} }

// Err is a failed result.
func Err[T, E any](e E) Result[T, E] { return Result[T, E]{isErr: true, err: e} }

// IsErr says whether the result failed.
func (r Result[T, E]) IsErr() bool { return r.isErr }

// Ok is the success value (zero for an error).
func (r Result[T, E]) Ok() T { return r.ok }

// Err is the error value (zero for a success).
func (r Result[T, E]) Err() E { return r.err }

// Tag is ResultOk or ResultErr.
func (r Result[T, E]) Tag() uint8 {
	if r.isErr {
		return ResultErr
	}
	return ResultOk
}
