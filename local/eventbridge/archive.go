package eventbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/crossbuild/crossbuild/local/eventpattern"
)

// maxArchived bounds the events an archive keeps in memory (the newest win);
// its file, if any, keeps them all.
const maxArchived = 10000

// archiveKey identifies an archive: names are unique per account and Region.
type archiveKey struct {
	account, region, name string
}

type archive struct {
	key     archiveKey
	bus     busKey
	pattern *eventpattern.Pattern // nil archives every event
	file    string                // JSON lines file, if Options.ArchiveDir is set

	mu     sync.Mutex
	events []json.RawMessage
}

// AddArchive archives the events arriving on a bus that match pattern (all
// of them when pattern is empty), so they can be shown or replayed later.
func (s *Service) AddArchive(account, region, busName, name string, pattern json.RawMessage) error {
	k, err := resolveBus(busName, account, region)
	if err == nil {
		err = validateBusKey(k)
	}
	if err == nil && (k.account != account || k.region != region) {
		err = fmt.Errorf("bus %s is not in account %s, Region %s", s.busARN(k), account, region)
	}
	resource := fmt.Sprintf("archive %q", name)
	if err != nil {
		return &ConfigError{Resource: resource, Field: "EventSourceArn", Err: err}
	}
	if !archiveRE.MatchString(name) {
		return &ConfigError{Resource: resource, Field: "ArchiveName", Err: errors.New("must be 1 to 48 of A-Z a-z 0-9 . _ -")}
	}
	a := &archive{key: archiveKey{account: account, region: region, name: name}, bus: k}
	if len(pattern) > 0 {
		if a.pattern, err = eventpattern.Compile(pattern); err != nil {
			return &ConfigError{Resource: resource, Field: "EventPattern", Err: err}
		}
	}
	if s.opts.ArchiveDir != "" {
		if err := os.MkdirAll(s.opts.ArchiveDir, 0o755); err != nil {
			return &ConfigError{Resource: resource, Field: "ArchiveName", Err: fmt.Errorf("archive folder: %w", err)}
		}
		a.file = filepath.Join(s.opts.ArchiveDir, fmt.Sprintf("%s.%s.%s.jsonl", account, region, name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.archives[a.key] != nil {
		return &ConfigError{Resource: resource, Err: errors.New("archive already exists")}
	}
	if s.buses[k] == nil && k.name != DefaultBus {
		return &ConfigError{Resource: resource, Field: "EventSourceArn", Err: fmt.Errorf("event bus %s does not exist", s.busARN(k))}
	}
	s.archives[a.key] = a
	return nil
}

// ArchivedEvents returns the events an archive recorded, oldest first.
func (s *Service) ArchivedEvents(account, region, name string) []json.RawMessage {
	s.mu.RLock()
	a := s.archives[archiveKey{account: account, region: region, name: name}]
	s.mu.RUnlock()
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]json.RawMessage, len(a.events))
	for i, e := range a.events {
		out[i] = append(json.RawMessage(nil), e...)
	}
	return out
}

// archiveEvent records an event in the archives of its bus.
func (s *Service) archiveEvent(ev *event) {
	s.mu.RLock()
	var matching []*archive
	for _, a := range s.archives {
		if a.bus == ev.bus {
			matching = append(matching, a)
		}
	}
	s.mu.RUnlock()
	sort.Slice(matching, func(i, j int) bool { return matching[i].key.name < matching[j].key.name })
	for _, a := range matching {
		if a.pattern != nil {
			ok, err := a.pattern.MatchValue(ev.doc)
			if err != nil || !ok {
				continue
			}
		}
		if err := a.record(ev.raw); err != nil {
			s.log.Warn("eventbridge: archive write failed", "archive", a.key.name, "eventId", ev.id, "error", err)
		}
	}
}

func (a *archive) record(raw json.RawMessage) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, raw)
	if len(a.events) > maxArchived {
		a.events = a.events[len(a.events)-maxArchived:]
	}
	if a.file == "" {
		return nil
	}
	f, err := os.OpenFile(a.file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open archive file: %w", err)
	}
	line := append(append([]byte(nil), raw...), '\n')
	_, werr := f.Write(line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write archive file %s: %w", a.file, werr)
	}
	return nil
}
