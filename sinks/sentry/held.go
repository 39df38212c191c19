package sentry

import "container/list"

// heldGroup is one issue group's count of events held back since its last sent event, as
// kept in memory and in the guard state file.
type heldGroup struct {
	Group string `json:"group"`
	N     int64  `json:"n"`
}

// heldBacks counts held-back events per issue group for at most max groups. A new group
// beyond that evicts the group held back least recently; its count is lost, which only
// makes the next event of that group report fewer (overflow.jsonl still has them all).
// Not safe for concurrent use: the guard's mutex protects it.
type heldBacks struct {
	max     int
	order   *list.List // of *heldGroup, least recently held first
	byGroup map[string]*list.Element
}

func newHeldBacks(max int) *heldBacks {
	return &heldBacks{max: max, order: list.New(), byGroup: map[string]*list.Element{}}
}

// add counts n more events of group and makes it the most recently held. It reports
// whether another group was evicted to make room.
func (h *heldBacks) add(group string, n int64) (evicted bool) {
	if el, ok := h.byGroup[group]; ok {
		el.Value.(*heldGroup).N += n
		h.order.MoveToBack(el)
		return false
	}
	if h.order.Len() >= h.max {
		oldest := h.order.Front()
		h.order.Remove(oldest)
		delete(h.byGroup, oldest.Value.(*heldGroup).Group)
		evicted = true
	}
	h.byGroup[group] = h.order.PushBack(&heldGroup{Group: group, N: n})
	return evicted
}

// take returns the count of group and forgets it.
func (h *heldBacks) take(group string) int64 {
	el, ok := h.byGroup[group]
	if !ok {
		return 0
	}
	h.order.Remove(el)
	delete(h.byGroup, group)
	return el.Value.(*heldGroup).N
}

// list returns the groups least recently held first, the order the state file keeps.
func (h *heldBacks) list() []heldGroup {
	if h.order.Len() == 0 {
		return nil
	}
	out := make([]heldGroup, 0, h.order.Len())
	for el := h.order.Front(); el != nil; el = el.Next() {
		out = append(out, *el.Value.(*heldGroup))
	}
	return out
}

func (h *heldBacks) len() int { return h.order.Len() }
