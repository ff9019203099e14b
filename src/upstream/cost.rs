//! The upstream cost of one lookup: the most calls to Atlassian, and the most Atlassian
//! rate-limit points, that one request can cause. RELIABILITY.md quotes these figures and a test
//! checks that it quotes them right; `resolve`'s tests drive an upstream that reaches them
//! exactly, and the end-to-end cost test drives the largest request against a fake that pages
//! and throttles and checks the count stays within them.
//!
//! The bound follows from the published maxima and the component's own limits, nothing else:
//! - at most `max_account_ids` distinct ids per request (1 to 10,000, the configuration's
//!   `LARGEST_MAX_ACCOUNT_IDS`; default 1,000);
//! - each source is asked only for the ids still unresolved, so the most calls arise when no
//!   source resolves anything and every source in the order is asked for every id;
//! - ids go in chunks of the API's published maximum: [`confluence::MAX_ACCOUNT_IDS`] (250) for
//!   `users-bulk`, [`admin::MAX_ACCOUNT_IDS`] (10) for the admin search;
//! - each logical call makes at most [`retry::MAX_ATTEMPTS`] (3) attempts;
//! - paging: a `users-bulk` chunk is asked again only for the ids an answer with a next link left
//!   out, and an answer that lists none of them is an error, so a chunk of `c` ids takes at most
//!   `c` rounds; an admin chunk follows `links.next` for at most [`admin::MAX_PAGES`] (20) pages.
//!
//! **Points.** Atlassian meters Confluence calls of Forge, Connect and OAuth 2.0 (3LO) apps in
//! points: 1 per request plus 2 per user object returned (API-token traffic is not metered in
//! points; it has burst limits only). [`Cost::confluence_points`] counts 1 per `users-bulk`
//! attempt and 2 per id: a round asks only ids no earlier answer listed, a complete answer lists
//! each asked user at most once, and a throttled or failed answer carries no user object (a 2xx
//! that could not be read and was retried could be charged again, at most 2 × 250 more points
//! each). The admin API publishes no points and no limits.

use super::{admin, confluence, retry, SourceKind};

/// Which upstream behaviour a bound assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// Every call answered at once, in one page: the published maxima alone.
    Clean,
    /// Every call throttled or failing until its last attempt ([`retry::MAX_ATTEMPTS`]), each
    /// answer in one page.
    Retried,
    /// Every call retried to its last attempt, and every answer paged as far as the component
    /// follows it: one new id per `users-bulk` round, [`admin::MAX_PAGES`] admin pages a chunk.
    /// The most one request can cause.
    RetriedAndPaged,
}

/// The upstream cost of one lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Calls to `POST /wiki/api/v2/users-bulk`.
    pub users_bulk_calls: u64,
    /// Calls to the admin search.
    pub admin_calls: u64,
    /// Confluence rate-limit points, where the Confluence credential is metered in points (an
    /// OAuth 2.0 bearer token): 1 per `users-bulk` call plus 2 per user object (see the module
    /// docs). Zero for the admin source, whose API publishes none.
    pub confluence_points: u64,
}

impl Cost {
    /// Every upstream call.
    pub fn calls(&self) -> u64 {
        self.users_bulk_calls + self.admin_calls
    }
}

/// The most one lookup of `ids` distinct ids through `sources` (in the order asked) costs with
/// the given upstream behaviour. `ids` is at most `max_account_ids`; zero ids make no call.
pub fn most(ids: usize, sources: &[SourceKind], upstream: Upstream) -> Cost {
    let attempts = match upstream {
        Upstream::Clean => 1,
        Upstream::Retried | Upstream::RetriedAndPaged => u64::from(retry::MAX_ATTEMPTS),
    };
    let paged = upstream == Upstream::RetriedAndPaged;
    let mut cost = Cost::default();
    for source in sources {
        match source {
            SourceKind::Confluence => {
                // Chunks of at most 250; a chunk of c ids takes 1 round, or c when paged.
                let rounds: u64 = chunks(ids, confluence::MAX_ACCOUNT_IDS)
                    .map(|c| if paged { c as u64 } else { 1 })
                    .sum();
                cost.users_bulk_calls += rounds * attempts;
                cost.confluence_points += rounds * attempts + 2 * ids as u64;
            }
            SourceKind::Admin => {
                let pages = if paged { admin::MAX_PAGES as u64 } else { 1 };
                let chunks = chunks(ids, admin::MAX_ACCOUNT_IDS).count() as u64;
                cost.admin_calls += chunks * pages * attempts;
            }
        }
    }
    cost
}

/// The sizes of the chunks `ids` ids are cut into, `size` at most each.
fn chunks(ids: usize, size: usize) -> impl Iterator<Item = usize> {
    (0..ids)
        .step_by(size)
        .map(move |start| size.min(ids - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [SourceKind; 2] = [SourceKind::Confluence, SourceKind::Admin];

    #[test]
    fn the_published_maxima_alone() {
        let c = most(1000, &BOTH, Upstream::Clean);
        assert_eq!(
            (c.users_bulk_calls, c.admin_calls, c.calls()),
            (4, 100, 104)
        );
        assert_eq!(c.confluence_points, 4 + 2 * 1000);
        let c = most(1, &BOTH, Upstream::Clean);
        assert_eq!(c.calls(), 2);
        let c = most(251, &[SourceKind::Confluence], Upstream::Clean);
        assert_eq!((c.users_bulk_calls, c.admin_calls), (2, 0));
        assert_eq!(most(0, &BOTH, Upstream::RetriedAndPaged), Cost::default());
    }

    #[test]
    fn retries_triple_the_calls_not_the_user_objects() {
        let c = most(1000, &BOTH, Upstream::Retried);
        assert_eq!((c.users_bulk_calls, c.admin_calls), (12, 300));
        assert_eq!(c.confluence_points, 12 + 2000);
    }

    /// `1234567` as `1,234,567`, the docs' form.
    fn thousands(n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn reliability_md_quotes_the_bound() {
        let doc = include_str!("../../RELIABILITY.md");
        let cases = [
            (Upstream::Clean, "answers every call at once, in one page"),
            (
                Upstream::Retried,
                "throttles or fails every call until its last attempt",
            ),
            (
                Upstream::RetriedAndPaged,
                "that, and pages every answer as far as the component follows it",
            ),
        ];
        for ids in [1000, 10_000] {
            for (upstream, words) in cases {
                let c = most(ids, &BOTH, upstream);
                let row = format!(
                    "| {} | {words} | {} | {} | {} | {} |",
                    thousands(ids as u64),
                    thousands(c.users_bulk_calls),
                    thousands(c.admin_calls),
                    thousands(c.calls()),
                    thousands(c.confluence_points),
                );
                assert!(doc.contains(&row), "RELIABILITY.md lacks the row {row}");
            }
        }
        // The README's summary of the same figures.
        let readme = include_str!("../../README.md").replace("\n  ", " ");
        let summary = format!(
            "at most {} calls when Atlassian answers cleanly, {} when every call is retried, and {} when",
            most(1000, &BOTH, Upstream::Clean).calls(),
            most(1000, &BOTH, Upstream::Retried).calls(),
            thousands(most(1000, &BOTH, Upstream::RetriedAndPaged).calls()),
        );
        assert!(readme.contains(&summary), "README.md lacks: {summary}");
        let largest = format!(
            "({} at the largest `max_account_ids`, 10,000)",
            thousands(most(10_000, &BOTH, Upstream::RetriedAndPaged).calls())
        );
        assert!(readme.contains(&largest), "README.md lacks: {largest}");
    }

    #[test]
    fn paging_takes_a_round_per_id_and_twenty_admin_pages() {
        let c = most(1000, &BOTH, Upstream::RetriedAndPaged);
        assert_eq!((c.users_bulk_calls, c.admin_calls), (3000, 6000));
        assert_eq!(c.confluence_points, 3000 + 2000);
        let c = most(10_000, &BOTH, Upstream::RetriedAndPaged);
        assert_eq!(c.calls(), 90_000);
    }
}
