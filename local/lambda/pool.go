package lambda

import (
	"context"
	"errors"
	"sync"
	"time"
)

// pool hands out a function's instances one invocation at a time.
type pool struct {
	free      chan *instance
	all       []*instance
	closed    chan struct{}
	closeOnce sync.Once
}

func newPool(instances []*instance) *pool {
	p := &pool{free: make(chan *instance, len(instances)), all: instances, closed: make(chan struct{})}
	for _, in := range instances {
		p.free <- in
	}
	return p
}

// acquire waits at most wait for a free instance.
func (p *pool) acquire(ctx context.Context, wait time.Duration, function string) (*instance, error) {
	if isClosed(p.closed) {
		return nil, ErrClosed
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case in := <-p.free:
		if isClosed(p.closed) {
			p.release(in)
			return nil, ErrClosed
		}
		return in, nil
	case <-p.closed:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, &TooManyRequestsError{Function: function}
	}
}

func (p *pool) release(in *instance) {
	select {
	case p.free <- in:
	default: // cannot happen: the channel holds every instance
	}
}

// close stops every instance, busy or not.
func (p *pool) close() error {
	var errs []error
	p.closeOnce.Do(func() {
		close(p.closed)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, in := range p.all {
			wg.Go(func() {
				if err := in.stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	})
	return errors.Join(errs...)
}
