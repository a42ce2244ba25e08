package signal

import "golang.org/x/time/rate"

// messageClass groups message types that share a rate limit.
type messageClass int

const (
	classNone        messageClass = iota // join and leave: limited by the session's state
	classNegotiation                     // offer, answer, restartIce
	classCandidate
	classSources
	classMute
	classVideoPref
	classChat
	classModeration
	classPing
	numClasses
)

// classLimit is the token bucket of each class: a burst that normal use (a whole
// negotiation's candidates, every tile of a large grid resized at once) stays within, and
// a sustained rate far below what a flood sends.
func classLimit(c messageClass) (perSecond rate.Limit, burst int) {
	switch c {
	case classNegotiation:
		return 5, 30
	case classCandidate:
		return 50, 200
	case classSources, classMute:
		return 5, 30
	case classVideoPref:
		return 50, 300
	case classChat:
		return 5, 20
	case classModeration:
		return 10, 60
	case classPing:
		return 1, 10
	}
	return rate.Inf, 0
}

func classOf(typ string) messageClass {
	switch typ {
	case TypeOffer, TypeAnswer, TypeRestartICE:
		return classNegotiation
	case TypeCandidate:
		return classCandidate
	case TypeSources:
		return classSources
	case TypeMute:
		return classMute
	case TypeVideoPref:
		return classVideoPref
	case TypeChat:
		return classChat
	case TypePing:
		return classPing
	case TypeMuteAll, TypeAdmit, TypeAdmitAll, TypeDeny, TypeRemove, TypeLock, TypeSetRole, TypeEndMeeting:
		return classModeration
	}
	return classNone
}

// messageLimits are one connection's buckets, one per class. A message over its class's
// limit is refused with rate_limited; the refusals count against the session's error
// limit, which closes a connection that keeps on.
type messageLimits [numClasses]*rate.Limiter

func newMessageLimits() *messageLimits {
	var l messageLimits
	for c := range numClasses {
		l[c] = rate.NewLimiter(classLimit(c))
	}
	return &l
}

// allow takes a token for a message of this type.
func (l *messageLimits) allow(typ string) bool { return l[classOf(typ)].Allow() }
