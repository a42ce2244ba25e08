package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/meridian-video/meridian/internal/account"
	"github.com/meridian-video/meridian/internal/policy"
	"github.com/meridian-video/meridian/internal/policyadmin"
	"github.com/meridian-video/meridian/internal/store"
)

// maxPolicyBody bounds a policy document sent to validate or stage.
const maxPolicyBody = 1 << 20

// policyRefusalJSON is a refusal by the jurisdiction policy, one shape wherever a
// policy.Decision refuses (sign-up, hosting, joining, sales): the error's code and message
// (the decision's Explain, alternatives included) with the decision's fields. See
// PolicyRefusal in api/openapi.yaml.
type policyRefusalJSON struct {
	Code          string            `json:"code"`
	Message       string            `json:"message"`
	RuleID        string            `json:"rule_id"`
	Jurisdiction  string            `json:"jurisdiction"`
	EffectiveFrom time.Time         `json:"effective_from"`
	PolicyVersion string            `json:"policy_version"`
	Reason        string            `json:"reason"`
	Alternatives  []alternativeJSON `json:"alternatives"`
}

type alternativeJSON struct {
	Kind    string       `json:"kind"`
	Text    string       `json:"text"`
	Partner *partnerJSON `json:"partner,omitempty"`
}

type partnerJSON struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	Name    string         `json:"name"`
	Contact policy.Contact `json:"contact"`
}

func toPolicyRefusal(code, msg string, d *policy.Decision) policyRefusalJSON {
	out := policyRefusalJSON{Code: code, Message: msg, RuleID: d.RuleID, Jurisdiction: d.Jurisdiction,
		EffectiveFrom: d.EffectiveFrom, PolicyVersion: d.PolicyVersion, Reason: d.Reason,
		Alternatives: make([]alternativeJSON, 0, len(d.Alternatives))}
	for _, alt := range d.Alternatives {
		j := alternativeJSON{Kind: alt.Kind, Text: alt.Text}
		if p := alt.Partner; p != nil {
			j.Partner = &partnerJSON{ID: p.ID, Kind: p.Kind, Name: p.Name, Contact: p.Contact}
		}
		out.Alternatives = append(out.Alternatives, j)
	}
	return out
}

func normalizeEmails(emails []string) []string {
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		out = append(out, store.NormalizeEmail(e))
	}
	return out
}

// isOperator tells whether the principal may use the policy console: a user signed in
// with a session whose email address is one of the configured operators. An API key never
// is, whatever its scopes, so that no key can change the policy.
func (a *accountAPI) isOperator(p account.Principal) bool {
	return !p.ViaAPIKey() && p.User.ID != "" && slices.Contains(a.operators, store.NormalizeEmail(p.User.Email))
}

type policyHandler func(svc *policyadmin.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal)

// operatorRoute serves h to operators only: anyone else signed in is forbidden (the
// signedIn route has already answered 401 to the anonymous).
func operatorRoute(h policyHandler) func(*accountAPI, http.ResponseWriter, *http.Request, account.Principal) {
	return func(a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
		if a.policy == nil {
			WriteError(w, http.StatusNotFound, "not_found", "this server does not serve the policy console")
			return
		}
		if !a.isOperator(p) {
			WriteError(w, http.StatusForbidden, account.CodeForbidden, "only operators may read or change the jurisdiction policy")
			return
		}
		h(a.policy, a, w, r, p)
	}
}

type policyRuleJSON struct {
	ID             string     `json:"id"`
	Jurisdiction   string     `json:"jurisdiction"`
	Question       string     `json:"question"`
	Effect         string     `json:"effect"`
	Requires       string     `json:"requires,omitempty"`
	EffectiveFrom  time.Time  `json:"effective_from"`
	EffectiveUntil *time.Time `json:"effective_until,omitempty"`
	Condition      string     `json:"condition,omitempty"`
	ReasonCode     string     `json:"reason_code"`
	Message        string     `json:"message"`
}

type policyDocJSON struct {
	Name     string           `json:"name"`
	Version  string           `json:"version"`
	Document string           `json:"document"`
	Rules    []policyRuleJSON `json:"rules"`
	StagedBy string           `json:"staged_by,omitempty"`
	StagedAt *time.Time       `json:"staged_at,omitempty"`
	// Origin, ActivatedBy and ActivatedAt say where the running version came from.
	Origin      string     `json:"origin,omitempty"`
	ActivatedBy string     `json:"activated_by,omitempty"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
}

// toPolicyDoc describes a document with its rules sorted by effective date (the console's
// timeline).
func toPolicyDoc(d policyadmin.Document) policyDocJSON {
	out := policyDocJSON{Name: d.Name, Document: string(d.Source), Rules: []policyRuleJSON{}, StagedBy: d.StagedBy}
	if !d.StagedAt.IsZero() {
		out.StagedAt = &d.StagedAt
	}
	if d.StagedAt.IsZero() {
		out.Origin, out.ActivatedBy = d.Origin, d.ActivatedBy
		if !d.ActivatedAt.IsZero() {
			out.ActivatedAt = &d.ActivatedAt
		}
	}
	if d.Policy == nil {
		return out
	}
	out.Version = d.Policy.Version
	for _, r := range d.Policy.Rules {
		j := policyRuleJSON{ID: r.ID, Jurisdiction: r.Jurisdiction, Question: r.Question.String(), Effect: string(r.Effect),
			Requires: string(r.Requires), EffectiveFrom: r.EffectiveFrom, Condition: r.Condition, ReasonCode: r.ReasonCode, Message: r.Message}
		if !r.EffectiveUntil.IsZero() {
			u := r.EffectiveUntil
			j.EffectiveUntil = &u
		}
		out.Rules = append(out.Rules, j)
	}
	slices.SortStableFunc(out.Rules, func(a, b policyRuleJSON) int { return a.EffectiveFrom.Compare(b.EffectiveFrom) })
	return out
}

type policyLoadErrorJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// writeInvalidPolicy answers a document that does not load: 422, every problem with its
// file and line.
func writeInvalidPolicy(w http.ResponseWriter, err error) {
	out := struct {
		Code    string                `json:"code"`
		Message string                `json:"message"`
		Errors  []policyLoadErrorJSON `json:"errors"`
	}{Code: "invalid_policy", Message: err.Error(), Errors: []policyLoadErrorJSON{}}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if le := (*policy.LoadError)(nil); errors.As(e, &le) {
			out.Errors = append(out.Errors, policyLoadErrorJSON{File: le.File, Line: le.Line, Message: le.Msg})
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, out)
}

// readPolicyBody reads a YAML document from the request body (any content type but JSON
// is taken as the document itself), at most maxPolicyBody bytes.
func readPolicyBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPolicyBody))
	if err != nil {
		WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "a policy document is at most 1 MiB")
		return nil, false
	}
	if len(b) == 0 {
		WriteError(w, http.StatusBadRequest, "invalid_input", "send the policy document (YAML) as the body")
		return nil, false
	}
	return b, true
}

// policyRequestName names a document sent over the API in its load errors.
const policyRequestName = "policy.yaml"

func getPolicy(svc *policyadmin.Service, _ *accountAPI, w http.ResponseWriter, _ *http.Request, _ account.Principal) {
	out := struct {
		Running policyDocJSON  `json:"running"`
		Staged  *policyDocJSON `json:"staged"`
	}{Running: toPolicyDoc(svc.Running())}
	if d, ok := svc.Staged(); ok {
		j := toPolicyDoc(d)
		out.Staged = &j
	}
	writeJSON(w, http.StatusOK, out)
}

func validatePolicy(_ *policyadmin.Service, _ *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	b, ok := readPolicyBody(w, r)
	if !ok {
		return
	}
	p, err := policyadmin.Validate(policyRequestName, b)
	if err != nil {
		writeInvalidPolicy(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		OK     bool          `json:"ok"`
		Policy policyDocJSON `json:"policy"`
	}{true, toPolicyDoc(policyadmin.Document{Name: policyRequestName, Source: b, Policy: p})})
}

func stagePolicy(svc *policyadmin.Service, _ *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	b, ok := readPolicyBody(w, r)
	if !ok {
		return
	}
	d, err := svc.Stage(r.Context(), p.Actor(), policyRequestName, b)
	if err != nil {
		writeInvalidPolicy(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Staged policyDocJSON `json:"staged"`
	}{toPolicyDoc(d)})
}

func activatePolicy(svc *policyadmin.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, p account.Principal) {
	d, changes, err := svc.Activate(r.Context(), p.Actor())
	switch {
	case errors.Is(err, policyadmin.ErrNothingStaged):
		WriteError(w, http.StatusConflict, "nothing_staged", "stage a policy before activating it")
		return
	case err != nil && errors.As(err, new(*policy.LoadError)):
		a.log.ErrorContext(r.Context(), "activating the staged policy", "err", err)
		writeInvalidPolicy(w, err)
		return
	case err != nil: // not kept for the restart: not activated
		a.log.ErrorContext(r.Context(), "activating the staged policy", "err", err)
		WriteError(w, http.StatusInternalServerError, "internal", "the version could not be kept for the restart, so it was not activated")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Running policyDocJSON           `json:"running"`
		Changes policyadmin.RuleChanges `json:"changes"`
	}{toPolicyDoc(d), changes})
}

func dryRunPolicy(svc *policyadmin.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	var in struct {
		// At is when to decide; now if omitted.
		At *time.Time `json:"at"`
		// Document is the policy to try (YAML); the staged one if omitted.
		Document string `json:"document"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	var next policyadmin.Document
	if in.Document != "" {
		p, err := policyadmin.Validate(policyRequestName, []byte(in.Document))
		if err != nil {
			writeInvalidPolicy(w, err)
			return
		}
		next = policyadmin.Document{Name: policyRequestName, Source: []byte(in.Document), Policy: p}
	} else if d, ok := svc.Staged(); ok {
		next = d
	} else {
		WriteError(w, http.StatusConflict, "nothing_staged", "stage a policy, or send one as document, to dry-run it")
		return
	}
	var at time.Time // the service's now
	if in.At != nil {
		at = *in.At
	}
	rep, err := svc.DryRun(r.Context(), next, at)
	if err != nil {
		a.log.ErrorContext(r.Context(), "policy dry run", "err", err)
		WriteError(w, http.StatusInternalServerError, "internal", "something went wrong on the server")
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// maxDecisionsPage bounds the decisions one GET /api/policy/decisions returns.
const maxDecisionsPage = 500

type decisionJSON struct {
	ID            string    `json:"id"`
	Region        string    `json:"region"`
	At            time.Time `json:"at"`
	Question      string    `json:"question"`
	Subject       string    `json:"subject,omitempty"`
	Allowed       bool      `json:"allowed"`
	Code          string    `json:"code"`
	RuleID        string    `json:"rule_id,omitempty"`
	Jurisdiction  string    `json:"jurisdiction,omitempty"`
	PolicyVersion string    `json:"policy_version,omitempty"`
	Count         int64     `json:"count"`
	// Facts are what the decision was made from, by their CEL names (no names or
	// addresses); absent for an entry summing many.
	Facts json.RawMessage `json:"facts,omitempty"`
}

// listDecisions answers this region's decision log, newest first, filtered by rule,
// jurisdiction and outcome (allowed, refused, or a decision code).
func listDecisions(svc *policyadmin.Service, a *accountAPI, w http.ResponseWriter, r *http.Request, _ account.Principal) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDecisionsPage {
			WriteError(w, http.StatusBadRequest, "invalid_input", fmt.Sprintf("limit must be a number from 1 to %d", maxDecisionsPage))
			return
		}
		limit = n
	}
	for _, name := range []string{"rule", "jurisdiction", "outcome"} {
		if v := q.Get(name); len(v) > 64 {
			WriteError(w, http.StatusBadRequest, "invalid_input", name+" is at most 64 characters")
			return
		}
	}
	ds, err := svc.Decisions(r.Context(), store.DecisionQuery{RuleID: q.Get("rule"), Jurisdiction: q.Get("jurisdiction"),
		Outcome: q.Get("outcome"), Limit: limit})
	if err != nil {
		a.log.ErrorContext(r.Context(), "listing policy decisions", "err", err)
		WriteError(w, http.StatusInternalServerError, "internal", "something went wrong on the server")
		return
	}
	out := struct {
		Decisions []decisionJSON `json:"decisions"`
	}{Decisions: make([]decisionJSON, 0, len(ds))}
	for _, d := range ds {
		j := decisionJSON{ID: d.ID, Region: d.Region, At: d.At, Question: d.Question, Subject: d.Subject, Allowed: d.Allowed, Code: d.Code,
			RuleID: d.RuleID, Jurisdiction: d.Jurisdiction, PolicyVersion: d.PolicyVersion, Count: d.Count}
		if d.Facts != "" && json.Valid([]byte(d.Facts)) {
			j.Facts = json.RawMessage(d.Facts)
		}
		out.Decisions = append(out.Decisions, j)
	}
	writeJSON(w, http.StatusOK, out)
}
