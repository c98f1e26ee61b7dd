package codebuild

import (
	"time"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// How CodeBuild answers a build beyond its quotas, as documented and as observed:
//
//   - "Quotas for AWS CodeBuild" (https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html):
//     the quotas hold per account and Region; "Concurrently running builds" is set per
//     environment (platform and compute type) and adjustable.
//   - "Builds in AWS CodeBuild" (https://docs.aws.amazon.com/codebuild/latest/userguide/builds-working.html):
//     at that limit further builds are queued, the queue holds at most five times the
//     limit, a queued build that does not start within its queued timeout (default eight
//     hours) is removed, and the order in which queued builds start is not predictable.
//   - StartBuild (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html)
//     lists AccountLimitExceededException: "An AWS service limit was exceeded for the
//     calling AWS account." Refused callers report HTTP 400 and the message "Cannot have
//     more than N builds in queue for the account", for example
//     https://github.com/aws-samples/aws-secure-environment-accelerator/issues/982
//     ("Status Code: 400; Error Code: AccountLimitExceededException").
//
// The stand-in starts queued builds first come first served, one of the orders AWS allows.

// Scope is an account and Region.
type Scope struct{ Account, Region string }

// Quota is the concurrent-build quota of an account and Region; its fields mean what
// Options.ConcurrentBuilds and Options.QueuedBuilds mean.
type Quota struct {
	ConcurrentBuilds int
	QueuedBuilds     int
}

// queueFactor is how many builds CodeBuild lets wait per concurrent build: "The maximum
// number of builds in a queue is five times the concurrent build limit."
// (https://docs.aws.amazon.com/codebuild/latest/userguide/builds-working.html)
const queueFactor = 5

// queueCap is how many builds may wait in QUEUED; meaningless when ConcurrentBuilds is 0.
func (q Quota) queueCap() int {
	switch {
	case q.QueuedBuilds < 0:
		return 0
	case q.QueuedBuilds == 0:
		return queueFactor * q.ConcurrentBuilds
	}
	return q.QueuedBuilds
}

// poolKey is what CodeBuild counts concurrent builds by.
type poolKey struct{ account, region, computeType string }

// pool is the running and waiting builds of one poolKey.
type pool struct {
	running int      // builds holding a slot
	queue   []*build // waiting for one, first come first served
}

// limitExceeded is StartBuild's answer when the queue is full.
func limitExceeded(queueCap int) *localaws.Error {
	return localaws.BadRequest("AccountLimitExceededException", "Cannot have more than %d builds in queue for the account", queueCap)
}

// quota is the quota of an account and Region.
func (s *Service) quota(account, region string) Quota {
	if q, ok := s.opts.Quotas[Scope{account, region}]; ok {
		return q
	}
	return Quota{ConcurrentBuilds: s.opts.ConcurrentBuilds, QueuedBuilds: s.opts.QueuedBuilds}
}

// poolOf returns the pool a project's builds count against. s.mu is held.
func (s *Service) poolOf(p Project) *pool {
	k := poolKey{p.Account, p.Region, p.ComputeType}
	pl, ok := s.pools[k]
	if !ok {
		pl = &pool{}
		s.pools[k] = pl
	}
	return pl
}

// admission decides whether a new build of p runs now, waits, or is refused. s.mu is held.
func (s *Service) admission(p Project) (run bool, err error) {
	q := s.quota(p.Account, p.Region)
	if q.ConcurrentBuilds <= 0 {
		return true, nil
	}
	pl := s.poolOf(p)
	if pl.running < q.ConcurrentBuilds && len(pl.queue) == 0 {
		return true, nil
	}
	if len(pl.queue) >= q.queueCap() {
		return false, limitExceeded(q.queueCap())
	}
	return false, nil
}

// admit gives b a slot and runs it. s.mu is held.
func (s *Service) admit(b *build) {
	s.poolOf(b.project).running++
	b.slot = true
	s.launch(b)
}

// enqueue makes b wait for a slot, within its queued timeout. s.mu is held.
func (s *Service) enqueue(b *build) {
	pl := s.poolOf(b.project)
	pl.queue = append(pl.queue, b)
	b.queued = true
	wait := time.Duration(b.queuedTimeout) * s.opts.TimeoutUnit
	b.queueTimer = time.AfterFunc(wait, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.unqueue(b, errTimedOut)
	})
}

// unqueue ends the wait of a queued build that was stopped or timed out: it runs without a
// slot, and its runner ends it in QUEUED. s.mu is held.
func (s *Service) unqueue(b *build, cause error) {
	if !b.queued {
		return
	}
	pl := s.poolOf(b.project)
	for i, q := range pl.queue {
		if q == b {
			pl.queue = append(pl.queue[:i], pl.queue[i+1:]...)
			break
		}
	}
	b.stop(cause)
	s.launch(b)
}

// release gives a finished build's slot to the build that has waited longest. s.mu is held.
func (s *Service) release(b *build) {
	if !b.slot {
		return
	}
	b.slot = false
	pl := s.poolOf(b.project)
	pl.running--
	limit := s.quota(b.project.Account, b.project.Region).ConcurrentBuilds
	for len(pl.queue) > 0 && (limit <= 0 || pl.running < limit) {
		next := pl.queue[0]
		pl.queue[0] = nil
		pl.queue = pl.queue[1:]
		s.admit(next)
	}
}

// launch starts a build's goroutine. A queued build has none: thousands may wait at no
// cost but their record. s.mu is held.
func (s *Service) launch(b *build) {
	if b.queueTimer != nil {
		b.queueTimer.Stop()
	}
	b.queued = false
	s.wg.Add(1)
	go s.run(b)
}

// drainQueues ends every wait, as Close stops every build. s.mu is held.
func (s *Service) drainQueues() {
	for _, pl := range s.pools {
		queue := pl.queue
		pl.queue = nil
		for _, b := range queue {
			b.stop(errStopped)
			s.launch(b)
		}
	}
}
