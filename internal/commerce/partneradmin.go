package commerce

import (
	"context"
	"strings"

	"github.com/meridian-video/meridian/internal/store"
)

// PutPartnerAs is PutPartner by an operator, audited: the record a partner's customers
// are sold and supported under is a change like any other.
func (s *Service) PutPartnerAs(ctx context.Context, actor string, p store.Partner) (store.Partner, error) {
	if err := s.PutPartner(ctx, p); err != nil {
		code, msg := CodeOf(err)
		if code != CodeInternal {
			s.record(ctx, actor, "partner.put", p.ID, code, msg)
		}
		return store.Partner{}, err
	}
	ps, err := s.ForPartner(ctx, p.ID)
	if err != nil {
		return store.Partner{}, err
	}
	got := ps.Partner()
	s.record(ctx, actor, "partner.put", got.ID, "ok", "kind="+got.Kind+" region="+got.Region+" jurisdictions="+strings.Join(got.Jurisdictions, ","))
	return got, nil
}
