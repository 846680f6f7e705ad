//! What a GraphQL document may cost before async-graphql validates it.
//!
//! async-graphql's own validation walks a fragment spread into the fragment every time it is
//! spread: a 1 KB document whose 25 fragments each spread the next one twice costs 2^25 visits
//! (10 s of CPU, signed out). This guard runs first (in the HTTP handler, and for websockets
//! as an extension's `prepare_request`) and bounds the work with one linear pass:
//!
//! * field selections are counted as they would be *executed*: a fragment spread counts its
//!   fragment's fields once per spread (memoised per fragment, so the count itself is linear),
//!   `__typename` included; over `max_fields` is refused;
//! * aliases are counted the same way (one mutation aliased 2,000 times is refused);
//! * the query text has a size cap (a token bound for the parser);
//! * `Int` arguments, literal or variable, must fit a 32-bit integer, and no string anywhere
//!   (query or variables) may hold a NUL character (PostgreSQL cannot store one).
//!
//! Every refusal is `VALIDATION` with a message saying which limit.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::{BaseType, ExecutableDocument, Selection, SelectionSet, Type};
use async_graphql::{Name, Positioned, Request, ServerResult, Value, Variables};

use crate::error::AppError;

/// The limits of one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Field selections the operation may execute, fragments expanded.
    pub max_fields: u64,
    /// Aliased selections the operation may execute, fragments expanded.
    pub max_aliases: u64,
    /// Bytes of query text.
    pub max_query_bytes: usize,
}

impl Limits {
    pub fn of(settings: &crate::config::Settings) -> Self {
        Limits {
            max_fields: settings.graphql.max_fields,
            max_aliases: settings.graphql.max_aliases,
            max_query_bytes: settings.graphql.max_query_bytes,
        }
    }
}

/// The extension that applies [`Limits`] to every websocket request (the HTTP handler calls
/// [`check`] itself).
pub struct RequestGuard(pub Limits);

impl ExtensionFactory for RequestGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(GuardExtension(self.0))
    }
}

struct GuardExtension(Limits);

#[async_trait::async_trait]
impl Extension for GuardExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        check(&mut request, self.0).map_err(crate::graphql::reauth::refusal)?;
        next.run(ctx, request).await
    }
}

/// Checks a request against the limits. A document that does not parse is left to
/// async-graphql (which reports the syntax error).
pub fn check(request: &mut Request, limits: Limits) -> Result<(), AppError> {
    if request.query.len() > limits.max_query_bytes {
        return Err(AppError::validation(format!(
            "the query is longer than {} bytes",
            limits.max_query_bytes
        )));
    }
    if request.query.contains('\0') || variables_hold_nul(&request.variables) {
        return Err(nul());
    }
    // Parsed here and handed to the request, so async-graphql does not parse it again.
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return Ok(());
    };
    let result = check_document(&doc, request, limits);
    request.set_parsed_query(doc);
    result
}

fn check_document(
    doc: &ExecutableDocument,
    request: &Request,
    limits: Limits,
) -> Result<(), AppError> {
    let variables = &request.variables;
    let operation_name = &request.operation_name;
    let mut counter = Counter {
        doc,
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    for (name, op) in doc.operations.iter() {
        if let (Some(wanted), Some(name)) = (operation_name, name)
            && wanted != name.as_str()
        {
            continue;
        }
        let cost = counter.selection_set(&op.node.selection_set.node)?;
        if cost.fields > limits.max_fields {
            return Err(AppError::validation(format!(
                "the query selects too many fields ({} with fragments expanded; at most {})",
                cost.fields, limits.max_fields
            )));
        }
        if cost.aliases > limits.max_aliases {
            return Err(AppError::validation(format!(
                "the query uses too many aliases ({} with fragments expanded; at most {})",
                cost.aliases, limits.max_aliases
            )));
        }
        if cost.int_out_of_range {
            return Err(int_out_of_range());
        }
        if cost.holds_nul {
            return Err(nul());
        }
        for def in &op.node.variable_definitions {
            let def = &def.node;
            if is_int(&def.var_type.node)
                && let Some(value) = variables.get(&def.name.node)
                && !int_fits(value)
            {
                return Err(int_out_of_range());
            }
        }
    }
    Ok(())
}

fn nul() -> AppError {
    AppError::validation("NUL characters are not allowed in queries or variables")
}

fn int_out_of_range() -> AppError {
    AppError::validation("an Int argument is outside the 32-bit range")
}

fn is_int(ty: &Type) -> bool {
    match &ty.base {
        BaseType::Named(name) => name.as_str() == "Int",
        BaseType::List(inner) => is_int(inner),
    }
}

/// Null and lists or objects of fitting numbers fit too; a non-number is left to
/// async-graphql's typing.
fn int_fits(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_i64().is_none_or(|n| i32::try_from(n).is_ok()),
        Value::List(items) => items.iter().all(int_fits),
        Value::Object(map) => map.values().all(int_fits),
        _ => true,
    }
}

fn variables_hold_nul(vars: &Variables) -> bool {
    vars.iter()
        .any(|(name, value)| name.as_str().contains('\0') || value_holds_nul(value))
}

fn value_holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Enum(n) => n.as_str().contains('\0'),
        Value::List(items) => items.iter().any(value_holds_nul),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.as_str().contains('\0') || value_holds_nul(v)),
        _ => false,
    }
}

/// What a selection costs when executed.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    fields: u64,
    aliases: u64,
    int_out_of_range: bool,
    /// A string literal holds a NUL (written as `\u0000` in the query text).
    holds_nul: bool,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.int_out_of_range |= other.int_out_of_range;
        self.holds_nul |= other.holds_nul;
    }
}

struct Counter<'d> {
    doc: &'d ExecutableDocument,
    memo: HashMap<&'d Name, Cost>,
    /// Fragments being counted (a cycle is refused here; async-graphql would refuse it too).
    visiting: Vec<&'d Name>,
}

impl<'d> Counter<'d> {
    fn selection_set(&mut self, set: &'d SelectionSet) -> Result<Cost, AppError> {
        let mut cost = Cost::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    cost.fields = cost.fields.saturating_add(1);
                    if field.alias.is_some() {
                        cost.aliases = cost.aliases.saturating_add(1);
                    }
                    // Literals only: variables in an argument are checked by their declared
                    // type in `check`.
                    for (_, v) in &field.arguments {
                        let Ok(literal) = v
                            .node
                            .clone()
                            .into_const_with(|_| Ok::<_, std::convert::Infallible>(Value::Null));
                        cost.int_out_of_range |= !int_fits(&literal);
                        cost.holds_nul |= value_holds_nul(&literal);
                    }
                    cost.add(self.selection_set(&field.selection_set.node)?);
                }
                Selection::InlineFragment(fragment) => {
                    cost.add(self.selection_set(&fragment.node.selection_set.node)?);
                }
                Selection::FragmentSpread(spread) => {
                    cost.add(self.fragment(&spread.node.fragment_name)?);
                }
            }
        }
        Ok(cost)
    }

    fn fragment(&mut self, name: &'d Positioned<Name>) -> Result<Cost, AppError> {
        let name = &name.node;
        if let Some(cost) = self.memo.get(name) {
            return Ok(*cost);
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            // Unknown fragments are async-graphql's to report.
            return Ok(Cost::default());
        };
        if self.visiting.contains(&name) {
            return Err(AppError::validation(format!(
                "fragment {name} spreads itself"
            )));
        }
        self.visiting.push(name);
        let cost = self.selection_set(&fragment.node.selection_set.node)?;
        self.visiting.pop();
        self.memo.insert(name, cost);
        Ok(cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_fields: 1000,
        max_aliases: 30,
        max_query_bytes: 65_536,
    };

    fn run(query: &str) -> Result<(), AppError> {
        check(&mut Request::new(query), LIMITS)
    }

    /// `query{...F0} fragment F0 on Query{...F1 ...F1} … fragment Fn on Query{__typename}`.
    fn doubling_fragments(n: usize) -> String {
        let mut q = String::from("query{...F0}");
        for i in 0..n {
            q.push_str(&format!(
                " fragment F{i} on Query{{...F{} ...F{}}}",
                i + 1,
                i + 1
            ));
        }
        q.push_str(&format!(" fragment F{n} on Query{{__typename}}"));
        q
    }

    #[test]
    fn check_refuses_doubling_fragments_when_expanded_past_the_limit() {
        assert!(run(&doubling_fragments(5)).is_ok(), "32 fields are fine");
        let started = std::time::Instant::now();
        let err = run(&doubling_fragments(60)).expect_err("2^60 fields");
        assert_eq!(err.code(), "VALIDATION");
        assert!(err.to_string().contains("too many fields"), "{err}");
        // Linear, not exponential: far below a second even unoptimised.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn check_counts_typename_and_aliases() {
        let many: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
        let err = run(&format!("{{{many}}}")).expect_err("aliases");
        assert!(err.to_string().contains("aliases"), "{err}");
        let plain: String = (0..1001).map(|_| "__typename ").collect();
        let err = run(&format!("{{{plain}}}")).expect_err("fields");
        assert!(err.to_string().contains("fields"), "{err}");
        let logouts: String = (0..40).map(|i| format!("l{i}: logout ")).collect();
        assert!(run(&format!("mutation{{{logouts}}}")).is_err());
        assert!(run("{ me { id username } scans(first: 5) { totalCount } }").is_ok());
    }

    #[test]
    fn check_refuses_cycles_nul_and_out_of_range_ints() {
        assert!(run("query{...A} fragment A on Query{...B} fragment B on Query{...A}").is_err());
        assert!(run("mutation{ login(username: \"a\\u0000\", password: \"x\") { id } }").is_err());
        let mut req =
            Request::new("mutation($u:String!){ login(username:$u, password:\"x\"){id} }")
                .variables(Variables::from_json(serde_json::json!({"u": "a\u{0}b"})));
        assert!(check(&mut req, LIMITS).is_err());
        let err =
            run("{ scans { edges { node { hosts(first: -35136613317171) { totalCount } } } } }")
                .expect_err("out of range");
        assert!(err.to_string().contains("32-bit"), "{err}");
        let mut req = Request::new("query($n:Int){ scans(first:$n){ totalCount } }").variables(
            Variables::from_json(serde_json::json!({"n": 5_000_000_000_i64})),
        );
        assert!(check(&mut req, LIMITS).is_err());
        let mut req = Request::new("query($n:Int){ scans(first:$n){ totalCount } }")
            .variables(Variables::from_json(serde_json::json!({"n": 5})));
        assert!(check(&mut req, LIMITS).is_ok());
        assert!(run(&"x".repeat(70_000)).is_err());
        // Syntax errors are async-graphql's to report.
        assert!(run("{ me { ").is_ok());
    }
}
