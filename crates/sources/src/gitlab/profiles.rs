//! The people GitLab's answers show (user objects, commits), as identity profiles for
//! `teams suggest`. Reads payloads only; merging is `sources::profiles`'.

use serde_json::Value;

use crate::model::IdentityProfile;
use crate::sources::profiles::{address, profile, text};

/// User objects (`{username, name}`, `public_email` / `email` where the API shows them) and
/// commits (`author_name`, `author_email`).
#[derive(Debug, Clone, Copy)]
pub struct Shapes;

impl crate::sources::profiles::Shapes for Shapes {
    fn object(&self, v: &Value, out: &mut Vec<IdentityProfile>) {
        if v.get("username").is_some()
            && let Some(id) = super::parse::user(v)
        {
            let email = address(v, "public_email").or_else(|| address(v, "email"));
            out.push(profile(id, text(v, "name"), email, None));
        } else if let Some(email) = address(v, "author_email") {
            out.push(profile(crate::model::identity("email", &email), text(v, "author_name"), Some(email), None));
        }
    }
}
