//! The people Jira's answers show (user objects, Cloud or Data Center), as identity profiles for
//! `teams suggest`. Reads payloads only; merging is `sources::profiles`'.

use serde_json::Value;

use super::Flavor;
use crate::model::IdentityProfile;
use crate::sources::profiles::{address, profile, text};

/// User objects (`displayName`, `emailAddress`; `accountId` on Cloud, `name` on Data Center).
#[derive(Debug, Clone, Copy)]
pub struct Shapes(pub Flavor);

impl crate::sources::profiles::Shapes for Shapes {
    fn object(&self, v: &Value, out: &mut Vec<IdentityProfile>) {
        if v.get("displayName").is_none() {
            return;
        }
        let Some(id) = super::parse::user_identity(v, self.0) else { return };
        // Cloud hides e-mails by default (absent, or ""), Data Center shows them.
        let username = match self.0 {
            Flavor::DataCenter => text(v, "name").map(|n| n.to_ascii_lowercase()),
            Flavor::Cloud => None,
        };
        out.push(profile(id, text(v, "displayName"), address(v, "emailAddress"), username));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sources::profiles::extract;

    #[test]
    fn jira_placeholders_and_hidden_e_mails_are_no_evidence() {
        let v = json!({"author": {"accountId": "5b10", "displayName": "Former user", "emailAddress": ""},
                       "assignee": {"accountId": "5b11", "displayName": "Lin Wu", "emailAddress": ""}});
        let got = extract(&Shapes(Flavor::Cloud), &v);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].identity.as_str(), got[0].display_name.as_deref()), ("jira:5b11", Some("Lin Wu")));
        assert!(got[0].emails.is_empty() && got[0].username.is_none());
    }
}
