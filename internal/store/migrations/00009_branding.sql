-- Partners' brands by domain: a request whose host is a partner's domain is served under
-- its brand, so that no two partners may claim one domain. Domains are kept lower-case
-- (host names compare without case); a partner without a domain has ''.

-- +goose Up
UPDATE partners SET domain = lower(domain);
CREATE UNIQUE INDEX partners_domain ON partners (domain) WHERE domain <> '';

-- +goose Down
DROP INDEX partners_domain;
