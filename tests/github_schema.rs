//! Every GraphQL document the GitHub source sends validates against GitHub's public schema
//! (../shared/realdata/schemas/github.schema.graphql, or $SILOSCOPE_REALDATA/schemas/…).

use apollo_compiler::{ExecutableDocument, Schema};
use siloscope::sources::github::graphql;

fn realdata() -> std::path::PathBuf {
    std::env::var_os("SILOSCOPE_REALDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"))
}

fn schema() -> apollo_compiler::validation::Valid<Schema> {
    let path = realdata().join("schemas/github.schema.graphql");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}; set SILOSCOPE_REALDATA", path.display()));
    // GitHub's published schema repeats two fields of `EnterpriseOwnerInfo` (identically);
    // the parser keeps the first definition, which is all our documents need.
    let schema = match Schema::parse(text, "github.schema.graphql") {
        Ok(s) => s,
        Err(with_errors) => {
            let problems = with_errors.errors.to_string();
            assert!(
                problems.matches("Error:").count() == problems.matches("duplicate definitions").count(),
                "GitHub's schema has problems besides duplicated fields:\n{problems}"
            );
            with_errors.partial
        }
    };
    apollo_compiler::validation::Valid::assume_valid(schema)
}

#[test]
fn every_document_the_source_sends_is_valid_against_githubs_schema() {
    let schema = schema();
    let docs = graphql::all_documents();
    assert!(docs.len() >= 10);
    for (name, text) in docs {
        if let Err(e) = ExecutableDocument::parse_and_validate(&schema, text.as_str(), format!("{name}.graphql")) {
            panic!("{name} is not valid against GitHub's schema:\n{e}\n\n{text}");
        }
    }
}

#[test]
fn the_validator_rejects_what_github_would_reject() {
    // The check has teeth: a misspelt field, a wrong fragment type and an unused variable fail.
    let schema = schema();
    for bad in [
        "query A { rateLimit { costs } }",
        "query B { search(query: \"x\", type: ISSUE, first: 1) { nodes { ... on PullRequestReview { id } } } }",
        "query C($unused: Int!) { rateLimit { cost } }",
    ] {
        assert!(ExecutableDocument::parse_and_validate(&schema, bad, "bad.graphql").is_err(), "accepted: {bad}");
    }
}

#[test]
fn batched_documents_of_any_size_are_valid() {
    let schema = schema();
    let many: Vec<graphql::More> =
        (0..25).map(|i| graphql::More::Timeline { id: format!("I{i}"), after: "c".into() }).collect();
    for (name, text) in [
        ("More x25", graphql::more(&many)),
        ("SyncPage x5 repositories", graphql::sync_page(&graphql::RepoListing::Repositories(5), true, true)),
        ("RepoFiles x10", graphql::repo_files(10, true, &["docs/adr".into()])),
        ("FileHistory x10", graphql::file_history(10)),
    ] {
        if let Err(e) = ExecutableDocument::parse_and_validate(&schema, text.as_str(), format!("{name}.graphql")) {
            panic!("{name} is not valid:\n{e}");
        }
    }
}
