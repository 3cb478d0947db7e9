//! GitHub's GraphQL contract as the stand-in enforces it: every document is validated against
//! GitHub's public schema (GitHub rejects invalid ones), charged by GitHub's documented cost
//! formula, and every answer is checked against the document and the schema before it is served.
//! Test-only code; it knows nothing of scenarios, and never builds answers itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use apollo_compiler::ast::{Type, Value as AstValue};
use apollo_compiler::executable::{Field, Selection, SelectionSet};
use apollo_compiler::response::JsonMap;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Schema};
use serde_json::Value;

/// Where GitHub's schema is read from: `$SILOSCOPE_REALDATA/schemas/github.schema.graphql`, by
/// default `../shared/realdata` next to the crate (as `tests/run` sets it).
pub fn schema_path() -> std::path::PathBuf {
    std::env::var_os("SILOSCOPE_REALDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata"))
        .join("schemas/github.schema.graphql")
}

/// GitHub's schema, parsed once per process.
pub struct Contract {
    schema: Valid<Schema>,
    /// Object types of each interface and union.
    possible: HashMap<String, Vec<Name>>,
}

/// The contract, or a panic naming the missing schema file: a stand-in that cannot check what it
/// serves must not serve at all.
pub fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let path = schema_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the GitHub stand-in checks every answer against GitHub's schema, and cannot read {}: {e}; \
                 set SILOSCOPE_REALDATA to the shared real-data directory (tests/run does)",
                path.display()
            )
        });
        Contract::from_sdl(&text)
    })
}

impl Contract {
    /// GitHub's published schema repeats two fields of `EnumerateOwnerInfo` identically; the
    /// parser keeps the first definition, and any other problem is a panic.
    pub fn from_sdl(text: &str) -> Contract {
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
        let schema = Valid::assume_valid(schema);
        let mut possible: HashMap<String, Vec<Name>> = HashMap::new();
        for (name, ty) in &schema.types {
            match ty {
                ExtendedType::Object(o) => {
                    for i in &o.implements_interfaces {
                        possible.entry(i.name.to_string()).or_default().push(name.clone());
                    }
                }
                ExtendedType::Union(u) => {
                    possible.entry(name.to_string()).or_default().extend(u.members.iter().map(|m| m.name.clone()));
                }
                _ => {}
            }
        }
        Contract { schema, possible }
    }

    /// Parses and validates a request as GitHub does before running it: the document against
    /// the schema, the variables against the operation, and the node limit (`first`/`last` on
    /// every connection, 1 to 100, at most 500,000 nodes). Errors are GitHub-style messages.
    pub fn request(&self, document: &str, variables: &Value) -> Result<Request, Vec<String>> {
        let doc = ExecutableDocument::parse_and_validate(&self.schema, document, "request.graphql")
            .map_err(|e| e.errors.iter().map(|d| d.error.to_string()).collect::<Vec<_>>())?;
        let operation = doc.operations.iter().next().ok_or_else(|| vec!["No operation given".to_string()])?;
        let raw: JsonMap = match apollo_compiler::response::JsonValue::from(variables.clone()) {
            apollo_compiler::response::JsonValue::Object(m) => m,
            apollo_compiler::response::JsonValue::Null => JsonMap::new(),
            _ => return Err(vec!["Variables are invalid JSON.".into()]),
        };
        apollo_compiler::request::coerce_variable_values(&self.schema, operation, &raw)
            .map_err(|e| vec![e.message().to_string()])?;
        let vars = variables.as_object().cloned().unwrap_or_default();
        let request = Request { doc, vars };
        let cost = self.cost(&request)?;
        if cost.nodes > 500_000 {
            return Err(vec![format!(
                "By the time this query traverses to the nodes connection, it is requesting up to {} possible nodes which exceeds the maximum limit of 500,000.",
                cost.nodes
            )]);
        }
        Ok(request)
    }

    /// GitHub's documented rate-limit cost of a request: every connection needs one request for
    /// each parent object it may be asked of (the product of the `first`/`last` arguments of the
    /// connections around it); the sum over the document's connections, divided by 100 and
    /// rounded to the nearest whole number, at least 1, is the cost in points. Fields selected
    /// twice at one place (two fragments) are one connection; fragments on different types are
    /// different connections. Choice where GitHub's page is silent: a list field asked by `ids`
    /// (`nodes(ids:)`) multiplies what is nested in it by the number of ids, as that many aliased
    /// `node(id:)` fields would add up.
    pub fn cost(&self, request: &Request) -> Result<Cost, Vec<String>> {
        let op = request.doc.operations.iter().next().ok_or_else(|| vec!["No operation given".to_string()])?;
        let mut cost = Cost::default();
        let mut errors = Vec::new();
        self.cost_of(request, &[&op.selection_set], 1, &mut cost, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        cost.points = ((cost.requests + 50) / 100).max(1) as i64;
        Ok(cost)
    }

    fn cost_of(
        &self,
        request: &Request,
        sets: &[&SelectionSet],
        multiplier: u64,
        cost: &mut Cost,
        errors: &mut Vec<String>,
    ) {
        // Fields by (type condition, response key), merged across fragments.
        let mut grouped: BTreeMap<(String, String), Vec<&Field>> = BTreeMap::new();
        for set in sets {
            self.flatten(request, set, set.ty.as_str(), None, &mut grouped);
        }
        for ((_, key), fields) in grouped {
            let field = fields[0];
            let subsets: Vec<&SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
            let mut inner = multiplier;
            if is_connection(field) {
                cost.requests += multiplier;
                let n =
                    ["first", "last"].iter().find_map(|a| field.specified_argument_by_name(a)).map(|v| request.int(v));
                match n {
                    None if selects_items(field) => errors.push(format!(
                        "You must provide a `first` or `last` value to properly paginate the `{key}` connection."
                    )),
                    Some(Some(n)) if !(1..=100).contains(&n) => errors.push(format!(
                        "Requesting {n} records on the `{key}` connection exceeds the `first` limit of 100 records."
                    )),
                    Some(Some(n)) => {
                        inner = multiplier.saturating_mul(n as u64);
                        cost.nodes = cost.nodes.saturating_add(inner);
                    }
                    _ => {}
                }
            } else if let Some(ids) = field.specified_argument_by_name("ids") {
                inner = multiplier.saturating_mul(request.list_len(ids).max(1) as u64);
            }
            if !field.selection_set.selections.is_empty() {
                self.cost_of(request, &subsets, inner, cost, errors);
            }
        }
    }

    /// Fields of a selection set with their type condition (the nearest fragment's, else the
    /// set's type), through fragments, skipping what `@skip`/`@include` leave out.
    fn flatten<'d>(
        &self,
        request: &'d Request,
        set: &'d SelectionSet,
        condition: &str,
        concrete: Option<&str>,
        out: &mut BTreeMap<(String, String), Vec<&'d Field>>,
    ) {
        for s in &set.selections {
            if !request.included(s.directives()) {
                continue;
            }
            match s {
                Selection::Field(f) => {
                    out.entry((condition.to_string(), f.response_key().to_string())).or_default().push(f.as_ref())
                }
                Selection::InlineFragment(i) => {
                    let cond = i.type_condition.as_ref().map_or(condition.to_string(), |t| t.to_string());
                    if concrete.is_none_or(|c| self.applies(&cond, c)) {
                        self.flatten(request, &i.selection_set, &cond, concrete, out);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = request.doc.fragments.get(&spread.fragment_name) {
                        let cond = fragment.type_condition().to_string();
                        if concrete.is_none_or(|c| self.applies(&cond, c)) {
                            self.flatten(request, &fragment.selection_set, &cond, concrete, out);
                        }
                    }
                }
            }
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `concrete`.
    fn applies(&self, condition: &str, concrete: &str) -> bool {
        condition == concrete || self.possible.get(condition).is_some_and(|p| p.iter().any(|n| n == concrete))
    }

    /// Every way `data` differs from what GitHub would answer to `request`: a field the document
    /// did not select, a selected field missing, a value not of the schema's type (null where
    /// non-null, a list where an object, an unknown enum value, a malformed `DateTime`, a
    /// `__typename` that is not a possible type).
    pub fn check(&self, request: &Request, data: &Value) -> Vec<Violation> {
        let Some(op) = request.doc.operations.iter().next() else { return Vec::new() };
        let mut out = Vec::new();
        let root = op.selection_set.ty.to_string();
        self.check_object(request, data, &[&op.selection_set], &root, "data", &mut out);
        out
    }

    fn check_object(
        &self,
        request: &Request,
        value: &Value,
        sets: &[&SelectionSet],
        ty: &str,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let Some(object) = value.as_object() else {
            out.push(Violation::at(path, value, format!("{ty} must be an object, got {}", kind_of(value))));
            return;
        };
        let candidates: Vec<Name> = match self.schema.types.get(ty) {
            Some(ExtendedType::Object(_)) => vec![Name::new(ty).expect("a type name")],
            Some(ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                match object.get("__typename").and_then(Value::as_str) {
                    Some(t) if self.applies(ty, t) => vec![Name::new(t).expect("a type name")],
                    Some(t) => {
                        out.push(Violation::at(
                            path,
                            value,
                            format!("__typename {t:?} is not a possible type of {ty}"),
                        ));
                        return;
                    }
                    None => self.possible.get(ty).cloned().unwrap_or_default(),
                }
            }
            _ => {
                out.push(Violation::at(path, value, format!("{ty} is not an output object type")));
                return;
            }
        };
        // Without `__typename`, the object must fit one of the possible types.
        let mut best: Option<Vec<Violation>> = None;
        for concrete in &candidates {
            let mut found = Vec::new();
            self.check_as(request, object, value, sets, concrete, path, &mut found);
            if found.is_empty() {
                return;
            }
            if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                best = Some(found);
            }
        }
        out.extend(best.unwrap_or_default());
    }

    #[allow(clippy::too_many_arguments)]
    fn check_as(
        &self,
        request: &Request,
        object: &serde_json::Map<String, Value>,
        value: &Value,
        sets: &[&SelectionSet],
        concrete: &str,
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        let mut grouped: BTreeMap<(String, String), Vec<&Field>> = BTreeMap::new();
        for set in sets {
            self.flatten(request, set, concrete, Some(concrete), &mut grouped);
        }
        let mut by_key: BTreeMap<String, Vec<&Field>> = BTreeMap::new();
        for ((_, key), fields) in grouped {
            by_key.entry(key).or_default().extend(fields);
        }
        for key in object.keys() {
            if !by_key.contains_key(key) {
                out.push(Violation::at(
                    path,
                    value,
                    format!("{concrete}.{key} is served but the document did not select it"),
                ));
            }
        }
        for (key, fields) in &by_key {
            let here = format!("{path}.{key}");
            let Some(v) = object.get(key) else {
                out.push(Violation::at(
                    &here,
                    value,
                    format!("the document selected {key} on {concrete}, and the answer has none"),
                ));
                continue;
            };
            let name = fields[0].name.as_str();
            if name == "__typename" {
                if v.as_str() != Some(concrete) {
                    out.push(Violation::at(&here, value, format!("__typename must be {concrete:?}, got {v}")));
                }
                continue;
            }
            let Some(def) = self.schema.type_field(concrete, name).ok() else {
                out.push(Violation::at(&here, value, format!("{concrete} has no field {name}")));
                continue;
            };
            let subsets: Vec<&SelectionSet> = fields.iter().map(|f| &f.selection_set).collect();
            self.check_value(request, v, value, &def.ty, &subsets, &here, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_value(
        &self,
        request: &Request,
        v: &Value,
        parent: &Value,
        ty: &Type,
        sets: &[&SelectionSet],
        path: &str,
        out: &mut Vec<Violation>,
    ) {
        if v.is_null() {
            if ty.is_non_null() {
                out.push(Violation::at(path, parent, format!("null where the schema says {ty}")));
            }
            return;
        }
        if ty.is_list() {
            let Some(items) = v.as_array() else {
                out.push(Violation::at(path, parent, format!("{ty} must be a list, got {}", kind_of(v))));
                return;
            };
            for (i, item) in items.iter().enumerate() {
                self.check_value(request, item, parent, ty.item_type(), sets, &format!("{path}[{i}]"), out);
            }
            return;
        }
        let named = ty.inner_named_type().as_str();
        match self.schema.types.get(named) {
            Some(ExtendedType::Scalar(_)) => {
                if let Err(why) = scalar(named, v) {
                    out.push(Violation::at(path, parent, why));
                }
            }
            Some(ExtendedType::Enum(e)) => match v.as_str() {
                Some(s) if e.values.keys().any(|k| k == s) => {}
                _ => out.push(Violation::at(path, parent, format!("{v} is not a value of the enum {named}"))),
            },
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                self.check_object(request, v, sets, named, path, out)
            }
            _ => out.push(Violation::at(path, parent, format!("{named} is not an output type"))),
        }
    }
}

/// Whether a field is a connection (GitHub's `…Connection` types, paged by `first`/`last`).
fn is_connection(field: &Field) -> bool {
    field.definition.ty.inner_named_type().as_str().ends_with("Connection")
        && field.definition.arguments.iter().any(|a| a.name == "first" || a.name == "last")
}

/// Whether a connection's selection reads items (`nodes`, `edges`), which needs `first`/`last`;
/// `totalCount` alone does not.
fn selects_items(field: &Field) -> bool {
    field.selection_set.selections.iter().any(|s| match s {
        Selection::Field(f) => f.name == "nodes" || f.name == "edges",
        _ => true,
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A scalar value as GitHub serializes it.
fn scalar(name: &str, v: &Value) -> Result<(), String> {
    let ok = match name {
        "Int" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Float" => v.is_number(),
        "Boolean" => v.is_boolean(),
        "ID"
        | "String"
        | "URI"
        | "HTML"
        | "Base64String"
        | "BigInt"
        | "X509Certificate"
        | "GitSSHRemote"
        | "GitRefname"
        | "CustomPropertyValue" => v.is_string() || (name == "CustomPropertyValue" && !v.is_object()),
        "DateTime" | "PreciseDateTime" | "GitTimestamp" => {
            v.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
        }
        "Date" => v.as_str().is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
        "GitObjectID" => v.as_str().is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit())),
        _ => v.is_string(),
    };
    if ok { Ok(()) } else { Err(format!("{v} is not a valid {name}")) }
}

/// A request GitHub would run: its validated document and its variables.
pub struct Request {
    pub doc: Valid<ExecutableDocument>,
    pub vars: serde_json::Map<String, Value>,
}

impl Request {
    /// The operation's name.
    pub fn operation(&self) -> String {
        self.doc.operations.iter().next().and_then(|o| o.name.as_ref()).map_or_else(String::new, |n| n.to_string())
    }

    /// The operation's root fields that run (`@skip`/`@include` applied), with their
    /// arguments' values.
    pub fn root_fields(&self) -> Vec<RootField> {
        let Some(op) = self.doc.operations.iter().next() else { return Vec::new() };
        let mut out = Vec::new();
        for s in &op.selection_set.selections {
            if let Selection::Field(f) = s
                && self.included(&f.directives)
            {
                let args =
                    f.arguments.iter().filter_map(|a| Some((a.name.to_string(), self.resolve(&a.value)?))).collect();
                out.push(RootField { key: f.response_key().to_string(), name: f.name.to_string(), args });
            }
        }
        out
    }

    fn resolve<'a>(&'a self, v: &'a AstValue) -> Option<Value> {
        Some(match v {
            AstValue::Variable(name) => self.vars.get(name.as_str()).cloned().unwrap_or(Value::Null),
            AstValue::Int(i) => Value::from(i.try_to_i32().ok()?),
            AstValue::Boolean(b) => Value::Bool(*b),
            AstValue::List(l) => Value::Array(l.iter().filter_map(|x| self.resolve(x)).collect()),
            AstValue::String(s) => Value::String(s.clone()),
            AstValue::Null => Value::Null,
            _ => return None,
        })
    }

    fn int(&self, v: &AstValue) -> Option<i64> {
        self.resolve(v).and_then(|x| x.as_i64())
    }

    fn list_len(&self, v: &AstValue) -> usize {
        self.resolve(v).and_then(|x| x.as_array().map(Vec::len)).unwrap_or(1)
    }

    /// Whether `@skip`/`@include` keep a selection.
    fn included(&self, directives: &apollo_compiler::ast::DirectiveList) -> bool {
        let flag = |name: &str| {
            directives
                .get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .and_then(|v| self.resolve(v))
                .and_then(|v| v.as_bool())
        };
        flag("skip") != Some(true) && flag("include") != Some(false)
    }
}

/// A root field of a request: response key, field name, argument values.
#[derive(Debug, Clone, PartialEq)]
pub struct RootField {
    pub key: String,
    pub name: String,
    pub args: serde_json::Map<String, Value>,
}

/// What a request costs by GitHub's formula.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Requests needed to fulfil every connection.
    pub requests: u64,
    /// Nodes the request may return (GitHub's node limit: 500,000).
    pub nodes: u64,
    /// Rate-limit points: requests / 100, rounded, at least 1.
    pub points: i64,
}

/// One way an answer differs from GitHub's contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Where, like `data.search.nodes[3].createdAt`.
    pub path: String,
    /// The `id` of the object holding the value, when it has one.
    pub object_id: Option<String>,
    pub message: String,
}

impl Violation {
    fn at(path: &str, holder: &Value, message: String) -> Violation {
        Violation {
            path: path.to_string(),
            object_id: holder.get("id").and_then(Value::as_str).map(str::to_string),
            message,
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Distinct violation messages, for a readable panic.
pub fn summary(violations: &[Violation]) -> String {
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for v in violations {
        if seen.insert(v.message.clone()) {
            lines.push(v.to_string());
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cost_of(doc: &str, vars: Value) -> Cost {
        let c = contract();
        let r = c.request(doc, &vars).unwrap_or_else(|e| panic!("{e:?}"));
        c.cost(&r).unwrap()
    }

    #[test]
    fn githubs_worked_examples_of_the_cost_formula_and_the_node_limit() {
        // docs.github.com, "Rate limits and node limits for the GraphQL API": predicting the
        // point value. 1 + 100 + 5,000 = 5,101 requests, "the final score of the query: 51".
        let labels = "query { viewer { login repositories(first: 100) { edges { node { id \
                      issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } } } } } } } } }";
        assert_eq!(cost_of(labels, Value::Null), Cost { requests: 5_101, nodes: 100 + 5_000 + 300_000, points: 51 });
        // The same page's node-limit examples: "550 total nodes" and "22,060 total nodes".
        let simple = "query { viewer { repositories(first: 50) { edges { repository: node { name \
                      issues(first: 10) { totalCount edges { node { title bodyHTML } } } } } } } }";
        assert_eq!(cost_of(simple, Value::Null), Cost { requests: 1 + 50, nodes: 550, points: 1 });
        let complex = "query { viewer { repositories(first: 50) { edges { repository: node { name \
                       pullRequests(first: 20) { edges { pullRequest: node { title comments(first: 10) { edges { comment: node { bodyHTML } } } } } } \
                       issues(first: 20) { totalCount edges { issue: node { title bodyHTML comments(first: 10) { edges { comment: node { bodyHTML } } } } } } } } } \
                       followers(first: 10) { edges { follower: node { login } } } } }";
        // Requests: 1 + 50 + 1,000 + 50 + 1,000 + 1 = 2,102 → 21 points.
        assert_eq!(cost_of(complex, Value::Null), Cost { requests: 2_102, nodes: 22_060, points: 21 });
        // "The minimum point value of a call to the GraphQL API is 1."
        assert_eq!(cost_of("query { rateLimit { cost remaining } }", Value::Null).points, 1);
        // Variables count as their values; 149 requests round down, 150 up.
        let vars =
            "query Q($n: Int!) { viewer { repositories(first: $n) { nodes { issues(first: 1) { totalCount } } } } }";
        assert_eq!(cost_of(vars, json!({"n": 48})).points, 0_i64.max(1));
        assert_eq!(cost_of(vars, json!({"n": 48})).requests, 49);
        assert_eq!(cost_of(vars, json!({"n": 100})).points, 1);
        // 149 requests round down to 1 point, 150 up to 2.
        let round = |n: u32| {
            format!(
                "query {{ viewer {{ repositories(first: 100) {{ nodes {{ issues(first: 1) {{ totalCount }} }} }} \
                     followers(first: {n}) {{ nodes {{ starredRepositories(first: 1) {{ totalCount }} }} }} }} }}"
            )
        };
        // 1 + 100 + 1 + 47 = 149; 1 + 100 + 1 + 48 = 150.
        assert_eq!((cost_of(&round(47), Value::Null).requests, cost_of(&round(47), Value::Null).points), (149, 1));
        assert_eq!((cost_of(&round(48), Value::Null).requests, cost_of(&round(48), Value::Null).points), (150, 2));
        // `nodes(ids:)` multiplies what is nested by the number of ids.
        let by_ids =
            "query Q($ids: [ID!]!) { nodes(ids: $ids) { ... on Issue { timelineItems(first: 100) { totalCount } } } }";
        assert_eq!(cost_of(by_ids, json!({"ids": ["a", "b", "c"]})).requests, 3);
    }

    #[test]
    fn requests_github_would_reject_are_rejected() {
        let c = contract();
        for (doc, vars, why) in [
            ("query { rateLimit { costs } }", Value::Null, "does not have a field"),
            ("query Q($n: Int!) { rateLimit { cost } }", json!({"n": 1}), "unused"),
            ("query Q($n: Int!) { viewer { repositories(first: $n) { totalCount } } }", json!({"n": "x"}), ""),
            ("query { viewer { repositories { nodes { id } } } }", Value::Null, "must provide a `first` or `last`"),
            (
                "query { viewer { repositories(first: 101) { nodes { id } } } }",
                Value::Null,
                "exceeds the `first` limit",
            ),
            (
                "query { viewer { repositories(first: 100) { nodes { issues(first: 100) { nodes { labels(first: 100) { nodes { id } } } } } } } }",
                Value::Null,
                "500,000",
            ),
        ] {
            let e = c.request(doc, &vars).err().unwrap_or_else(|| panic!("accepted: {doc}"));
            assert!(e.iter().any(|m| m.contains(why)), "{doc}: {e:?}");
        }
        // `totalCount` alone needs no `first`.
        assert!(c.request("query { viewer { repositories { totalCount } } }", &Value::Null).is_ok());
    }

    #[test]
    fn answers_that_differ_from_the_contract_are_caught() {
        let c = contract();
        let doc = "query Q($q: String!, $x: Boolean!) { search(query: $q, type: ISSUE, first: 2) { issueCount \
                   nodes { __typename ... on Issue { id createdAt state author { login } } ... on PullRequest { id prState: state } } } \
                   rateLimit @include(if: $x) { cost } }";
        let r = c.request(doc, &json!({"q": "x", "x": false})).unwrap();
        let good = json!({"search": {"issueCount": 2, "nodes": [
            {"__typename": "Issue", "id": "I1", "createdAt": "2024-01-01T00:00:00Z", "state": "OPEN", "author": null},
            {"__typename": "PullRequest", "id": "P1", "prState": "MERGED"}]}});
        assert_eq!(c.check(&r, &good), vec![]);
        let cases: Vec<(Value, &str)> = vec![
            (json!({"search": {"issueCount": 2, "nodes": [], "extra": 1}}), "did not select"),
            (json!({"search": {"nodes": []}}), "selected issueCount"),
            (json!({"search": {"issueCount": null, "nodes": []}}), "null where the schema says Int!"),
            (json!({"search": {"issueCount": "2", "nodes": []}}), "not a valid Int"),
            (json!({"search": {"issueCount": 2, "nodes": {}}}), "must be a list"),
            (
                json!({"search": {"issueCount": 1, "nodes": [{"__typename": "Issue", "id": "I1", "createdAt": "yesterday", "state": "OPEN", "author": null}]}}),
                "not a valid DateTime",
            ),
            (
                json!({"search": {"issueCount": 1, "nodes": [{"__typename": "Issue", "id": "I1", "createdAt": "2024-01-01T00:00:00Z", "state": "MERGED", "author": null}]}}),
                "not a value of the enum IssueState",
            ),
            (
                json!({"search": {"issueCount": 1, "nodes": [{"__typename": "PullRequest", "id": "P1", "state": "MERGED"}]}}),
                "did not select",
            ),
            (json!({"search": {"issueCount": 1, "nodes": [{"__typename": "Team", "id": "T"}]}}), "not a possible type"),
            (json!({"search": {"issueCount": 0, "nodes": []}, "rateLimit": {"cost": 1}}), "did not select"),
        ];
        for (bad, why) in cases {
            let v = c.check(&r, &bad);
            assert!(v.iter().any(|x| x.message.contains(why)), "{bad}: {v:?}");
        }
        // Without `__typename`, an object must fit one possible type.
        let blob = c.request("query { repository(owner: \"a\", name: \"b\") { object(expression: \"HEAD:x\") { ... on Blob { text } } } }", &Value::Null).unwrap();
        assert_eq!(c.check(&blob, &json!({"repository": {"object": {"text": "hi"}}})), vec![]);
        assert_eq!(c.check(&blob, &json!({"repository": {"object": {}}})), vec![], "a Tree: nothing selected");
        assert!(!c.check(&blob, &json!({"repository": {"object": {"entries": []}}})).is_empty());
        let v = &c.check(&r, &json!({"search": {"issueCount": 1, "nodes": [{"__typename": "Issue", "id": "I9", "createdAt": "x", "state": "OPEN", "author": null}]}}))[0];
        assert_eq!((v.path.as_str(), v.object_id.as_deref()), ("data.search.nodes[0].createdAt", Some("I9")));
    }
}
