//! Every GraphQL document the GitHub source sends, built from named fragments so that each
//! document carries exactly the fragments and variables it uses (GitHub rejects unused ones).
//! Owns query text only: no HTTP, no parsing. Tests validate every document against the schema.

use std::collections::BTreeSet;

/// Timeline item types read for issues: everything that maps to a model event.
pub const ISSUE_TIMELINE_TYPES: &str = "[ASSIGNED_EVENT, UNASSIGNED_EVENT, LABELED_EVENT, UNLABELED_EVENT, ISSUE_COMMENT, \
CLOSED_EVENT, REOPENED_EVENT, TRANSFERRED_EVENT, CROSS_REFERENCED_EVENT, MARKED_AS_DUPLICATE_EVENT]";

/// Timeline item types read for pull requests.
pub const PULL_TIMELINE_TYPES: &str = "[ASSIGNED_EVENT, UNASSIGNED_EVENT, LABELED_EVENT, UNLABELED_EVENT, ISSUE_COMMENT, \
CLOSED_EVENT, REOPENED_EVENT, CROSS_REFERENCED_EVENT, MARKED_AS_DUPLICATE_EVENT, REVIEW_REQUESTED_EVENT, \
REVIEW_REQUEST_REMOVED_EVENT, READY_FOR_REVIEW_EVENT, CONVERT_TO_DRAFT_EVENT, PULL_REQUEST_REVIEW, PULL_REQUEST_COMMIT, MERGED_EVENT]";

/// (name, text) of every fragment; documents pull in the ones they reference.
const FRAGMENTS: &[(&str, &str)] = &[
    ("ActorFields", "fragment ActorFields on Actor { __typename login ... on User { name } }"),
    ("RateLimitFields", "fragment RateLimitFields on RateLimit { cost remaining resetAt }"),
    ("RepoInfo", "fragment RepoInfo on Repository { id nameWithOwner pushedAt isArchived }"),
    (
        "IssueItem",
        "fragment IssueItem on Issue { id number title url createdAt updatedAt closedAt state stateReason body \
         author { ...ActorFields } repository { id nameWithOwner } \
         timelineItems(first: $timeline, itemTypes: ISSUE_TYPES) { ...IssueTimelinePage } }",
    ),
    (
        "PullItem",
        "fragment PullItem on PullRequest { id number title url createdAt updatedAt closedAt prState: state isDraft merged mergedAt body \
         author { ...ActorFields } mergedBy { ...ActorFields } repository { id nameWithOwner } \
         timelineItems(first: $timeline, itemTypes: PULL_TYPES) { ...PullTimelinePage } \
         reviews(first: $reviews) { ...ReviewPage } }",
    ),
    (
        "ListedItem",
        "fragment ListedItem on SearchResultItem { __typename \
         ... on Issue { id createdAt updatedAt repository { nameWithOwner } } \
         ... on PullRequest { id createdAt updatedAt repository { nameWithOwner } } }",
    ),
    (
        "IssueTimelinePage",
        "fragment IssueTimelinePage on IssueTimelineItemsConnection { pageInfo { hasNextPage endCursor } \
         nodes { __typename ...Assigned ...Unassigned ...Labeled ...Unlabeled ...Commented ...Closed ...Reopened \
         ...Transferred ...CrossReferenced ...MarkedAsDuplicate } }",
    ),
    (
        "PullTimelinePage",
        "fragment PullTimelinePage on PullRequestTimelineItemsConnection { pageInfo { hasNextPage endCursor } \
         nodes { __typename ...Assigned ...Unassigned ...Labeled ...Unlabeled ...Commented ...Closed ...Reopened \
         ...CrossReferenced ...MarkedAsDuplicate ...ReviewRequested ...ReviewRequestRemoved ...ReadyForReview \
         ...ConvertToDraft ...Review ...PullCommit ...Merged } }",
    ),
    (
        "Assigned",
        "fragment Assigned on AssignedEvent { id createdAt actor { ...ActorFields } \
         assignee { __typename ... on User { login } ... on Bot { login } ... on Mannequin { login } ... on Organization { login } } }",
    ),
    (
        "Unassigned",
        "fragment Unassigned on UnassignedEvent { id createdAt actor { ...ActorFields } \
         assignee { __typename ... on User { login } ... on Bot { login } ... on Mannequin { login } ... on Organization { login } } }",
    ),
    ("Labeled", "fragment Labeled on LabeledEvent { id createdAt actor { ...ActorFields } label { name } }"),
    ("Unlabeled", "fragment Unlabeled on UnlabeledEvent { id createdAt actor { ...ActorFields } label { name } }"),
    ("Commented", "fragment Commented on IssueComment { id createdAt body author { ...ActorFields } }"),
    ("Closed", "fragment Closed on ClosedEvent { id createdAt actor { ...ActorFields } stateReason }"),
    ("Reopened", "fragment Reopened on ReopenedEvent { id createdAt actor { ...ActorFields } }"),
    (
        "Transferred",
        "fragment Transferred on TransferredEvent { id createdAt actor { ...ActorFields } fromRepository { nameWithOwner } }",
    ),
    (
        "CrossReferenced",
        "fragment CrossReferenced on CrossReferencedEvent { id createdAt actor { ...ActorFields } \
         source { __typename ... on Issue { id number repository { nameWithOwner } } \
         ... on PullRequest { id number title body merged mergedAt mergedBy { ...ActorFields } repository { nameWithOwner } } } }",
    ),
    (
        "MarkedAsDuplicate",
        "fragment MarkedAsDuplicate on MarkedAsDuplicateEvent { id createdAt actor { ...ActorFields } \
         canonical { __typename ... on Issue { number repository { nameWithOwner } } ... on PullRequest { number repository { nameWithOwner } } } \
         duplicate { __typename ... on Issue { number repository { nameWithOwner } } ... on PullRequest { number repository { nameWithOwner } } } }",
    ),
    (
        "ReviewRequested",
        "fragment ReviewRequested on ReviewRequestedEvent { id createdAt actor { ...ActorFields } \
         requestedReviewer { __typename ... on User { login } ... on Team { combinedSlug } ... on Bot { login } ... on Mannequin { login } } }",
    ),
    (
        "ReviewRequestRemoved",
        "fragment ReviewRequestRemoved on ReviewRequestRemovedEvent { id createdAt actor { ...ActorFields } \
         requestedReviewer { __typename ... on User { login } ... on Team { combinedSlug } ... on Bot { login } ... on Mannequin { login } } }",
    ),
    ("ReadyForReview", "fragment ReadyForReview on ReadyForReviewEvent { id createdAt actor { ...ActorFields } }"),
    ("ConvertToDraft", "fragment ConvertToDraft on ConvertToDraftEvent { id createdAt actor { ...ActorFields } }"),
    ("Merged", "fragment Merged on MergedEvent { id createdAt actor { ...ActorFields } }"),
    // Review comments are asked through the pull request's `reviews`, not in its timeline: nested
    // in a timeline of 100 they would cost 100 times as many points.
    ("Review", "fragment Review on PullRequestReview { id state createdAt submittedAt author { ...ActorFields } }"),
    (
        "ReviewPage",
        "fragment ReviewPage on PullRequestReviewConnection { pageInfo { hasNextPage endCursor } \
         nodes { id comments(first: $comments) { ...ReviewCommentPage } } }",
    ),
    (
        "ReviewCommentPage",
        "fragment ReviewCommentPage on PullRequestReviewCommentConnection { pageInfo { hasNextPage endCursor } \
         nodes { id createdAt body author { ...ActorFields } } }",
    ),
    (
        "PullCommit",
        "fragment PullCommit on PullRequestCommit { id commit { oid committedDate authoredDate message \
         author { name email user { login } } } }",
    ),
    (
        "TeamFields",
        "fragment TeamFields on Team { id slug name combinedSlug \
         members(first: 100) { ...TeamMemberPage } repositories(first: 100) { ...TeamRepoPage } }",
    ),
    (
        "TeamMemberPage",
        "fragment TeamMemberPage on TeamMemberConnection { pageInfo { hasNextPage endCursor } nodes { login name } }",
    ),
    (
        "TeamRepoPage",
        "fragment TeamRepoPage on TeamRepositoryConnection { pageInfo { hasNextPage endCursor } \
         edges { permission node { nameWithOwner } } }",
    ),
    (
        "HistoryPage",
        "fragment HistoryPage on CommitHistoryConnection { pageInfo { hasNextPage endCursor } \
         nodes { oid committedDate author { name email user { login } } } }",
    ),
];

fn fragment_text(name: &str) -> Option<String> {
    FRAGMENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| text.replace("ISSUE_TYPES", ISSUE_TIMELINE_TYPES).replace("PULL_TYPES", PULL_TIMELINE_TYPES))
}

/// Names spread with `...Name` in `text` (inline fragments `... on T` are not spreads).
fn spreads(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("...") {
        rest = &rest[i + 3..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && name != "on" {
            out.push(name);
        }
    }
    out
}

/// Known variables and their types.
const VARIABLE_TYPES: &[(&str, &str)] = &[
    ("q", "String!"),
    ("first", "Int!"),
    ("after", "String"),
    ("timeline", "Int!"),
    ("comments", "Int!"),
    ("reviews", "Int!"),
    ("ids", "[ID!]!"),
    ("org", "String!"),
    ("owner", "String!"),
    ("name", "String!"),
];

/// Type of a variable: fixed names, or indexed `idN: ID!`, `afterN: String`, `ownerN`/`nameN`/`pathN: String!`.
fn variable_type(name: &str) -> Option<&'static str> {
    if let Some((_, t)) = VARIABLE_TYPES.iter().find(|(n, _)| *n == name) {
        return Some(t);
    }
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() == name.len() {
        return None;
    }
    match stem {
        "id" => Some("ID!"),
        "after" => Some("String"),
        "owner" | "name" | "path" => Some("String!"),
        _ => None,
    }
}

/// Variables used (`$name`) in `text`, in first-use order.
fn variables_in(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Assembles `query <name>(<variables>) { <body> }` plus the fragments the body needs
/// (transitively); variables are declared from their use.
pub fn document(name: &str, body: &str) -> String {
    let mut needed: Vec<String> = Vec::new();
    let mut queue = spreads(body);
    while let Some(f) = queue.pop() {
        if needed.contains(&f) {
            continue;
        }
        if let Some(text) = fragment_text(&f) {
            queue.extend(spreads(&text));
            needed.push(f);
        }
    }
    needed.sort();
    let fragments: Vec<String> = needed.iter().filter_map(|f| fragment_text(f)).collect();
    let mut all_text = body.to_string();
    for f in &fragments {
        all_text.push_str(f);
    }
    let vars: Vec<String> = variables_in(&all_text)
        .into_iter()
        .map(|v| format!("${v}: {}", variable_type(&v).unwrap_or("String")))
        .collect();
    let header = if vars.is_empty() { format!("query {name}") } else { format!("query {name}({})", vars.join(", ")) };
    let mut doc = format!("{header} {{ {body} }}");
    for f in fragments {
        doc.push('\n');
        doc.push_str(&f);
    }
    doc
}

/// What a sync page asks besides the search: an organisation's repositories (most recently
/// pushed first), or named repositories.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoListing {
    None,
    Organization,
    /// `owner/name` of each repository, asked as aliases `r0`, `r1`, …
    Repositories(usize),
}

/// Issues and pull requests listed per search page: ids and times only, so a page costs one
/// point whatever it holds.
pub const LISTING_PAGE: u32 = 100;

/// One sync request: a page of the search for what changed (ids and times only; variables `q`,
/// `after`), and/or the complete items of earlier listed ids with their timelines and review
/// comments (`ids`, `timeline`, `reviews`, `comments`); optionally the repositories (for
/// renames, new repositories and pushes: `org`/`withRepos` or `owner0`/`name0`…).
pub fn sync_page(listing: &RepoListing, search: bool, details: bool) -> String {
    let mut body = String::from("rateLimit { ...RateLimitFields }");
    if search {
        body.push_str(&format!(
            " search(query: $q, type: ISSUE, first: {LISTING_PAGE}, after: $after) {{ issueCount pageInfo {{ hasNextPage endCursor }} \
             nodes {{ ...ListedItem }} }}"
        ));
    }
    if details {
        body.push_str(" nodes(ids: $ids) { __typename ...IssueItem ...PullItem }");
    }
    match listing {
        RepoListing::None => {}
        RepoListing::Organization => body.push_str(
            " organization(login: $org) { \
             repositories(first: 100, orderBy: {field: PUSHED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor } nodes { ...RepoInfo } } }",
        ),
        RepoListing::Repositories(n) => {
            for i in 0..*n {
                body.push_str(&format!(" r{i}: repository(owner: $owner{i}, name: $name{i}) {{ ...RepoInfo }}"));
            }
        }
    }
    document("SyncPage", &body)
}

/// How many issues and pull requests a search lists (`q`), listing none of them (`first: 1`
/// with no field of the node selected: GitHub's limits are 1 to 100): one point.
pub fn count() -> String {
    document("Count", "rateLimit { ...RateLimitFields } search(query: $q, type: ISSUE, first: 1) { issueCount }")
}

/// What kind of account a login is (`User`, `Organization`), when `organization(login:)` is null.
pub fn owner() -> String {
    document("Owner", "rateLimit { ...RateLimitFields } repositoryOwner(login: $org) { __typename login }")
}

/// The next page of an organisation's repositories, most recently pushed first.
pub fn org_repositories() -> String {
    document(
        "OrgRepositories",
        "rateLimit { ...RateLimitFields } organization(login: $org) { \
         repositories(first: 100, after: $after, orderBy: {field: PUSHED_AT, direction: DESC}) { \
         totalCount pageInfo { hasNextPage endCursor } nodes { ...RepoInfo } } }",
    )
}

/// A continuation of a nested list that had more than one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum More {
    /// `timelineItems` of an issue or pull request (node id), after a cursor.
    Timeline { id: String, after: String },
    /// `reviews` (with their comments) of a pull request.
    Reviews { id: String, after: String },
    /// `comments` of a pull request review.
    ReviewComments { id: String, after: String },
    /// `members` of a team.
    TeamMembers { id: String, after: String },
    /// `repositories` of a team.
    TeamRepositories { id: String, after: String },
}

/// Continuations batched in one document as aliases `m0`, `m1`, … with variables `idN`,
/// `afterN`. Variables `timeline` (timelines) and `reviews`, `comments` (reviews) as used.
pub fn more(requests: &[More]) -> String {
    let mut body = String::from("rateLimit { ...RateLimitFields }");
    for (i, r) in requests.iter().enumerate() {
        let part = match r {
            More::Timeline { .. } => format!(
                " m{i}: node(id: $id{i}) {{ __typename \
                 ... on Issue {{ timelineItems(first: $timeline, after: $after{i}, itemTypes: {ISSUE_TIMELINE_TYPES}) {{ ...IssueTimelinePage }} }} \
                 ... on PullRequest {{ timelineItems(first: $timeline, after: $after{i}, itemTypes: {PULL_TIMELINE_TYPES}) {{ ...PullTimelinePage }} }} }}"
            ),
            More::Reviews { .. } => format!(
                " m{i}: node(id: $id{i}) {{ __typename ... on PullRequest {{ reviews(first: $reviews, after: $after{i}) {{ ...ReviewPage }} }} }}"
            ),
            More::ReviewComments { .. } => format!(
                " m{i}: node(id: $id{i}) {{ __typename ... on PullRequestReview {{ comments(first: 100, after: $after{i}) {{ ...ReviewCommentPage }} }} }}"
            ),
            More::TeamMembers { .. } => format!(
                " m{i}: node(id: $id{i}) {{ __typename ... on Team {{ members(first: 100, after: $after{i}) {{ ...TeamMemberPage }} }} }}"
            ),
            More::TeamRepositories { .. } => format!(
                " m{i}: node(id: $id{i}) {{ __typename ... on Team {{ repositories(first: 100, after: $after{i}) {{ ...TeamRepoPage }} }} }}"
            ),
        };
        body.push_str(&part);
    }
    document("More", &body)
}

/// An organisation's teams with their members and repository permissions.
pub fn teams() -> String {
    document(
        "Teams",
        "rateLimit { ...RateLimitFields } organization(login: $org) { \
         teams(first: 50, after: $after) { pageInfo { hasNextPage endCursor } nodes { ...TeamFields } } }",
    )
}

/// Where CODEOWNERS may live, in GitHub's order of precedence.
pub const CODEOWNERS_PATHS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// Files of repositories `r0…` (variables `ownerN`, `nameN`): CODEOWNERS (`coK` aliases, when
/// asked) and the entries of each decision-record directory (`dK` aliases), with blob ids so
/// that only changed records are read again.
pub fn repo_files(repositories: usize, codeowners: bool, record_dirs: &[String]) -> String {
    let mut inner = String::from("id nameWithOwner");
    if codeowners {
        for (k, path) in CODEOWNERS_PATHS.iter().enumerate() {
            inner.push_str(&format!(
                " co{k}: object(expression: {}) {{ ... on Blob {{ text }} }}",
                quote(&format!("HEAD:{path}"))
            ));
        }
    }
    for (k, dir) in record_dirs.iter().enumerate() {
        inner.push_str(&format!(
            " d{k}: object(expression: {}) {{ ... on Tree {{ entries {{ name path type oid }} }} }}",
            quote(&format!("HEAD:{dir}"))
        ));
    }
    let mut body = String::from("rateLimit { ...RateLimitFields }");
    for i in 0..repositories {
        body.push_str(&format!(" r{i}: repository(owner: $owner{i}, name: $name{i}) {{ {inner} }}"));
    }
    document("RepoFiles", &body)
}

/// The commit history of files `h0…` (variables `pathN`, `afterN`) of one repository's default
/// branch, each commit with the file's text at that commit (for its `Status:` line).
pub fn file_history(files: usize) -> String {
    let mut inner = String::new();
    for i in 0..files {
        inner.push_str(&format!(
            " h{i}: history(first: 50, after: $after{i}, path: $path{i}) {{ pageInfo {{ hasNextPage endCursor }} \
             nodes {{ oid committedDate author {{ name email user {{ login }} }} file(path: $path{i}) {{ object {{ ... on Blob {{ text }} }} }} }} }}"
        ));
    }
    document(
        "FileHistory",
        &format!(
            "rateLimit {{ ...RateLimitFields }} repository(owner: $owner, name: $name) {{ \
             defaultBranchRef {{ target {{ ... on Commit {{ {inner} }} }} }} }}"
        ),
    )
}

/// A GraphQL string literal.
pub fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// Every distinct document shape the source sends, for the schema test.
pub fn all_documents() -> Vec<(String, String)> {
    vec![
        ("SyncPage (organisation, listing)".into(), sync_page(&RepoListing::Organization, true, false)),
        ("SyncPage (repositories, listing)".into(), sync_page(&RepoListing::Repositories(3), true, false)),
        ("SyncPage (listing and items)".into(), sync_page(&RepoListing::None, true, true)),
        ("SyncPage (items)".into(), sync_page(&RepoListing::None, false, true)),
        ("SyncPage (organisation, listing and items)".into(), sync_page(&RepoListing::Organization, true, true)),
        ("OrgRepositories".into(), org_repositories()),
        ("Owner".into(), owner()),
        (
            "More".into(),
            more(&[
                More::Timeline { id: "a".into(), after: "x".into() },
                More::Reviews { id: "e".into(), after: "v".into() },
                More::ReviewComments { id: "b".into(), after: "y".into() },
                More::TeamMembers { id: "c".into(), after: "z".into() },
                More::TeamRepositories { id: "d".into(), after: "w".into() },
            ]),
        ),
        ("More (comments only)".into(), more(&[More::ReviewComments { id: "b".into(), after: "y".into() }])),
        ("Teams".into(), teams()),
        ("RepoFiles".into(), repo_files(2, true, &["docs/adr".into(), "docs/decisions".into()])),
        ("RepoFiles (records only)".into(), repo_files(1, false, &["docs/adr".into()])),
        ("FileHistory".into(), file_history(2)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_declare_exactly_the_variables_and_fragments_they_use() {
        let d = more(&[More::ReviewComments { id: "b".into(), after: "y".into() }]);
        assert!(d.starts_with("query More($id0: ID!, $after0: String)"), "{d}");
        assert!(d.contains("fragment ReviewCommentPage") && d.contains("fragment ActorFields"));
        assert!(!d.contains("fragment IssueItem") && !d.contains("$timeline"));
        let s = sync_page(&RepoListing::Organization, true, true);
        assert!(s.contains("$org: String!") && s.contains("$comments: Int!") && s.contains("$ids: [ID!]!"), "{s}");
        assert!(s.contains("itemTypes: [ASSIGNED_EVENT"));
        let listing = sync_page(&RepoListing::Organization, true, false);
        assert!(!listing.contains("fragment IssueItem") && !listing.contains("$timeline"), "{listing}");
    }
}
