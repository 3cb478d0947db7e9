//! The people GitHub's answers show (GraphQL `GitActor`s, REST commits and users), as identity
//! profiles for `teams suggest`. Reads payloads only; merging is `sources::profiles`'.

use serde_json::Value;

use super::parse::{actor, email_identity};
use crate::model::IdentityProfile;
use crate::sources::profiles::{address, profile, text};

/// GraphQL `GitActor` (`{name, email, user {login}}`), REST commits (`commit.author` with the
/// account in `author`), REST users (`{login, type, name, email}`).
#[derive(Debug, Clone, Copy)]
pub struct Shapes;

impl crate::sources::profiles::Shapes for Shapes {
    fn object(&self, v: &Value, out: &mut Vec<IdentityProfile>) {
        // GraphQL GitActor: the account in `user` (null when no account claims the e-mail).
        if v.get("email").is_some_and(Value::is_string) && v.get("user").is_some() && v.get("login").is_none() {
            let who = v["user"]
                .as_object()
                .and_then(|_| actor(&v["user"]))
                .or_else(|| text(v, "email").and_then(|e| email_identity(&e)));
            if let Some(id) = who {
                out.push(profile(id, text(v, "name"), address(v, "email"), None));
            }
            return;
        }
        // REST commit: the git author in `commit.author`, the account in `author`.
        if let Some(git) = v.get("commit").and_then(|c| c.get("author")).filter(|a| a.is_object())
            && v.get("sha").is_some()
        {
            let who = v.get("author").filter(|a| a.is_object()).and_then(actor);
            if let Some(id) = who.or_else(|| text(git, "email").and_then(|e| email_identity(&e))) {
                out.push(profile(id, text(git, "name"), address(git, "email"), None));
            }
            return;
        }
        // A user with profile fields (REST users/<login>; `name` and `email` are null when not public).
        if v.get("login").is_some()
            && (v.get("name").is_some_and(Value::is_string) || v.get("email").is_some_and(Value::is_string))
            && !matches!(
                v.get("type").or(v.get("__typename")).and_then(Value::as_str),
                Some("Bot" | "Organization" | "Team" | "Mannequin")
            )
            && let Some(id) = actor(v)
        {
            out.push(profile(id, text(v, "name"), address(v, "email"), None));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sources::profiles::extract;

    #[test]
    fn a_graphql_commit_author_gives_the_login_its_name_and_e_mail() {
        let v = json!({"commit": {"oid": "abc", "author": {"name": "Dana Scully", "email": "Dana@Acme.io", "user": {"login": "DScully"}}}});
        let got = extract(&Shapes, &v);
        assert_eq!(
            got,
            vec![IdentityProfile {
                identity: "github:dscully".into(),
                display_name: Some("Dana Scully".into()),
                emails: vec!["dana@acme.io".into()],
                username: None
            }]
        );
        // No account: the e-mail identity; a no-reply address is no e-mail; bots are left out.
        let v = json!([{"name": "Dana", "email": "dana@acme.io", "user": null},
                       {"name": "Fox", "email": "7+fox@users.noreply.github.com", "user": null},
                       {"name": "dependabot[bot]", "email": "49699333+dependabot[bot]@users.noreply.github.com",
                        "user": {"__typename": "Bot", "login": "dependabot"}}]);
        let got = extract(&Shapes, &v);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].identity.as_str(), got[0].emails.len()), ("email:dana@acme.io", 1));
        assert_eq!((got[1].identity.as_str(), got[1].emails.len()), ("github:fox", 0));
    }

    /// GraphQL actors (`ActorFields`: `... on User { name }`) and team members: a name when the
    /// user set one (null otherwise); a bot's login is no person.
    #[test]
    fn graphql_users_give_their_name() {
        let v = json!({"author": {"__typename": "User", "login": "Lin-Wu", "name": "Lin Wu"},
                       "members": {"nodes": [{"login": "ann", "name": null}, {"login": "bo", "name": "Bo"}]},
                       "actor": {"__typename": "Bot", "login": "renovate"}});
        let got: Vec<(String, Option<String>)> =
            extract(&Shapes, &v).into_iter().map(|p| (p.identity, p.display_name)).collect();
        assert_eq!(got, vec![("github:lin-wu".into(), Some("Lin Wu".into())), ("github:bo".into(), Some("Bo".into()))]);
    }
}
