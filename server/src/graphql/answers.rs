//! Answers to read-only requests about finished scans, kept in memory.
//!
//! A COMPLETED scan never changes again: its results, findings and reports are stored before
//! COMPLETED is published (`service::completion`), and the only thing that can still happen to
//! it is deletion. So the answer to a query that reads nothing but COMPLETED scans is the same
//! for every caller of the same role, and a dashboard page or a script asking for page 7 of a
//! 10,000-host scan again is answered without executing anything.
//!
//! What makes an answer storable (all of it):
//! * the document's executed operation is a `query` whose root selects only `scan` (and
//!   `__typename`) — [`cacheable_document`];
//! * every scan the request read was COMPLETED, and nothing it read can change: resolvers that
//!   read mutable rows under a scan (its config) call [`AnswerScope::read_mutable`];
//!   `tests` below list every field reachable from `Scan` so a new field is classified when it
//!   is added;
//! * the answer has no errors.
//!
//! A stored answer is used only after one statement confirms that each scan it read still exists
//! as the same COMPLETED row (`service::scans::still_completed`): a scan deleted here or by
//! another replica is never answered from memory. The key is the caller's role and the exact
//! request body; memory is bounded by `graphql.answer_cache_mib` (least recently used first).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use axum::body::Bytes;
use chrono::{DateTime, Utc};

use crate::domain::auth::Role;
use crate::domain::status::ScanStatus;

/// The identity of a scan row an answer read: its id and when it was created (an id alone could
/// name a later row where the database reuses ids).
pub type ScanStamp = (i32, DateTime<Utc>);

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    role: Role,
    body: Bytes,
}

/// A stored answer: the JSON body sent and the scans it was made from.
pub struct Answer {
    pub body: Bytes,
    pub scans: Vec<ScanStamp>,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Key, Arc<Answer>> for Weight {
    fn weight(&self, key: &Key, answer: &Arc<Answer>) -> u64 {
        (key.body.len() + answer.body.len() + 64) as u64
    }
}

type Store = quick_cache::sync::Cache<Key, Arc<Answer>, Weight>;

/// The in-memory store of answers (one per process).
pub struct AnswerCache {
    store: Option<Store>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl AnswerCache {
    /// A store of at most `mib` MiB of keys and answers; 0 turns it off.
    pub fn new(mib: u64) -> Self {
        let bytes = mib.saturating_mul(1024 * 1024);
        let store = (bytes > 0).then(|| {
            // quick_cache sizes its tables from an item estimate; answers are ~10–100 KB.
            let items = (bytes / 16_384).clamp(16, 1 << 20) as usize;
            Store::with_weighter(items, bytes, Weight)
        });
        Self {
            store,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.store.is_some()
    }

    /// The stored answer for this role and body, if any (counted as a hit or a miss).
    pub fn get(&self, role: Role, body: &Bytes) -> Option<Arc<Answer>> {
        let store = self.store.as_ref()?;
        let found = store.get(&Key {
            role,
            body: body.clone(),
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn insert(&self, role: Role, body: Bytes, answer: Answer) {
        if let Some(store) = &self.store {
            store.insert(Key { role, body }, Arc::new(answer));
        }
    }

    /// Drops an answer whose scans changed (deleted).
    pub fn forget(&self, role: Role, body: &Bytes) {
        if let Some(store) = &self.store {
            store.remove(&Key {
                role,
                body: body.clone(),
            });
        }
    }

    /// Requests answered from memory, and storable requests that were not.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

/// Whether the operation `operation_name` of `doc` (or its only operation) is a query whose
/// root selects nothing but `scan` fields (and `__typename`).
pub fn cacheable_document(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let mut operations = doc.operations.iter();
    let operation = match operation_name {
        Some(wanted) => operations
            .find(|(name, _)| name.is_some_and(|n| n.as_str() == wanted))
            .map(|(_, op)| op),
        None => match (operations.next(), operations.next()) {
            (Some((_, op)), None) => Some(op),
            _ => None,
        },
    };
    let Some(operation) = operation else {
        return false;
    };
    let operation = &operation.node;
    operation.ty == OperationType::Query
        && operation
            .selection_set
            .node
            .items
            .iter()
            .all(|item| match &item.node {
                Selection::Field(field) => {
                    matches!(field.node.name.node.as_str(), "scan" | "__typename")
                }
                // A fragment at the root could select anything: not worth following.
                Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
            })
}

/// What one request read, recorded by resolvers while it executes.
#[derive(Default)]
pub struct AnswerScope {
    inner: Mutex<ScopeState>,
}

#[derive(Default)]
struct ScopeState {
    scans: Vec<ScanStamp>,
    mutable: bool,
}

impl AnswerScope {
    /// The request read this scan (a scan that is not COMPLETED may still change).
    pub fn read_scan(&self, id: i32, created_at: DateTime<Utc>, status: Option<ScanStatus>) {
        let mut state = self.inner.lock().expect("answer scope");
        if status == Some(ScanStatus::Completed) {
            if !state.scans.contains(&(id, created_at)) {
                state.scans.push((id, created_at));
            }
        } else {
            state.mutable = true;
        }
    }

    /// The request read something that may change (or a scan that does not exist yet).
    pub fn read_mutable(&self) {
        self.inner.lock().expect("answer scope").mutable = true;
    }

    /// The scans behind a storable answer; `None` when the answer must not be stored.
    pub fn stamps(&self) -> Option<Vec<ScanStamp>> {
        let state = self.inner.lock().expect("answer scope");
        (!state.mutable && !state.scans.is_empty()).then(|| state.scans.clone())
    }
}

/// The request's scope: present for `POST /graphql` requests, absent on websockets.
pub fn scope<'a>(ctx: &'a async_graphql::Context<'_>) -> Option<&'a AnswerScope> {
    ctx.data_opt::<Arc<AnswerScope>>().map(Arc::as_ref)
}

/// Records in the request's scope (if it has one) that it read something mutable.
pub fn read_mutable(ctx: &async_graphql::Context<'_>) {
    if let Some(scope) = scope(ctx) {
        scope.read_mutable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(q: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(q).expect("query")
    }

    #[test]
    fn only_queries_of_scans_are_storable() {
        assert!(cacheable_document(&doc("{ scan(id: 1) { id } }"), None));
        assert!(cacheable_document(
            &doc(
                "query Q($id: ID!) { a: scan(id: $id) { id } b: scan(id: 2) { title } __typename }"
            ),
            None
        ));
        assert!(!cacheable_document(
            &doc("{ scan(id: 1) { id } me { id } }"),
            None
        ));
        assert!(!cacheable_document(&doc("{ scans { totalCount } }"), None));
        assert!(!cacheable_document(&doc("mutation { scan: logout }"), None));
        assert!(!cacheable_document(
            &doc("subscription { scan: scanUpdates { id } }"),
            None
        ));
        assert!(!cacheable_document(
            &doc("{ ...F } fragment F on Query { scan(id: 1) { id } }"),
            None
        ));
        // Two operations: the one named is judged; without a name it is not storable.
        let two = doc("query A { scan(id: 1) { id } } query B { me { id } }");
        assert!(cacheable_document(&two, Some("A")));
        assert!(!cacheable_document(&two, Some("B")));
        assert!(!cacheable_document(&two, Some("C")));
        assert!(!cacheable_document(&two, None));
    }

    #[test]
    fn a_scope_is_storable_only_when_it_read_completed_scans_alone() {
        let at = Utc::now();
        let scope = AnswerScope::default();
        assert_eq!(scope.stamps(), None, "read nothing");

        let scope = AnswerScope::default();
        scope.read_scan(1, at, Some(ScanStatus::Completed));
        scope.read_scan(1, at, Some(ScanStatus::Completed));
        scope.read_scan(2, at, Some(ScanStatus::Completed));
        assert_eq!(scope.stamps(), Some(vec![(1, at), (2, at)]));

        for status in [
            Some(ScanStatus::Running),
            Some(ScanStatus::Failed),
            Some(ScanStatus::Queued),
            None,
        ] {
            let scope = AnswerScope::default();
            scope.read_scan(1, at, Some(ScanStatus::Completed));
            scope.read_scan(2, at, status);
            assert_eq!(scope.stamps(), None, "{status:?}");
        }

        let scope = AnswerScope::default();
        scope.read_scan(1, at, Some(ScanStatus::Completed));
        scope.read_mutable();
        assert_eq!(scope.stamps(), None, "read a config");
    }

    #[test]
    fn the_store_is_keyed_by_role_and_body_and_bounded() {
        let cache = AnswerCache::new(1);
        let body = Bytes::from_static(b"{\"query\":\"{ scan(id: 1) { id } }\"}");
        let answer = || Answer {
            body: Bytes::from_static(b"{\"data\":{}}"),
            scans: vec![(1, Utc::now())],
        };
        assert!(cache.get(Role::Viewer, &body).is_none());
        cache.insert(Role::Viewer, body.clone(), answer());
        assert!(cache.get(Role::Viewer, &body).is_some());
        assert!(cache.get(Role::Admin, &body).is_none(), "another role");
        cache.forget(Role::Viewer, &body);
        assert!(cache.get(Role::Viewer, &body).is_none());
        assert_eq!(cache.counts(), (1, 3));

        // 1 MiB holds at most ~1 MiB: 100 answers of 100 KB cannot all stay.
        for i in 0..100u32 {
            let key = Bytes::from(format!("{{\"n\":{i}}}"));
            cache.insert(
                Role::Viewer,
                key,
                Answer {
                    body: Bytes::from(vec![b' '; 100_000]),
                    scans: vec![],
                },
            );
        }
        let kept = (0..100u32)
            .filter(|i| {
                cache
                    .get(Role::Viewer, &Bytes::from(format!("{{\"n\":{i}}}")))
                    .is_some()
            })
            .count();
        assert!((1..=11).contains(&kept), "kept {kept}");

        let off = AnswerCache::new(0);
        off.insert(Role::Viewer, body.clone(), answer());
        assert!(!off.enabled() && off.get(Role::Viewer, &body).is_none());
    }

    /// Every field reachable from `Scan`, each read from rows that do not change once the scan is
    /// COMPLETED. `Scan.config` is not followed: configs are edited, so its resolver marks the
    /// request with `read_mutable`. A new field under `Scan` fails this test until it is listed
    /// here (it reads immutable data) or its resolver calls `read_mutable` and it is listed in
    /// `MUTABLE`.
    const IMMUTABLE: &[&str] = &[
        "Finding.address",
        "Finding.code",
        "Finding.message",
        "Finding.port",
        "Finding.protocol",
        "Finding.severity",
        "Finding.site",
        "FindingConnection.edges",
        "FindingConnection.pageInfo",
        "FindingConnection.totalCount",
        "FindingEdge.cursor",
        "FindingEdge.node",
        "HttpInfo.location",
        "HttpInfo.responseMs",
        "HttpInfo.server",
        "HttpInfo.status",
        "HttpInfo.title",
        "NmapXmlFile.chunk",
        "NmapXmlFile.phase",
        "NmapXmlFile.storedBytes",
        "NmapXmlFile.url",
        "PageInfo.endCursor",
        "PageInfo.hasNextPage",
        "Scan.attempt",
        "Scan.chunkCount",
        "Scan.chunks",
        "Scan.pool",
        "Scan.commandLines",
        "Scan.completedAt",
        "Scan.createdAt",
        "Scan.errorMessage",
        "Scan.findings",
        "Scan.hosts",
        "Scan.id",
        "Scan.message",
        "Scan.nmapXml",
        "Scan.percent",
        "Scan.phase",
        "Scan.reports",
        "Scan.sites",
        "Scan.startedAt",
        "Scan.status",
        "Scan.summary",
        "Scan.title",
        "Scan.triggeredBy",
        "Scan.worker",
        "ScanCertificate.issuer",
        "ScanCertificate.keyBits",
        "ScanCertificate.keyType",
        "ScanCertificate.notAfter",
        "ScanCertificate.notBefore",
        "ScanCertificate.sans",
        "ScanCertificate.selfSigned",
        "ScanCertificate.serial",
        "ScanCertificate.sha256Fingerprint",
        "ScanCertificate.signatureAlgorithm",
        "ScanCertificate.subject",
        "ScanChunk.attempt",
        "ScanChunk.errorMessage",
        "ScanChunk.hostsUp",
        "ScanChunk.number",
        "ScanChunk.openPorts",
        "ScanChunk.percent",
        "ScanChunk.phase",
        "ScanChunk.status",
        "ScanChunk.targets",
        "ScanChunk.worker",
        "ScanHostConnection.edges",
        "ScanHostConnection.pageInfo",
        "ScanHostConnection.totalCount",
        "ScanHostEdge.cursor",
        "ScanHostEdge.node",
        "ScanIp.address",
        "ScanIp.hostname",
        "ScanIp.id",
        "ScanIp.pingActual",
        "ScanIp.pingExpected",
        "ScanIp.site",
        "ScanIp.ports",
        "ScanIp.status",
        "ScanPort.expected",
        "ScanPort.id",
        "ScanPort.missing",
        "ScanPort.port",
        "ScanPort.protocol",
        "ScanPort.reason",
        "ScanPort.service",
        "ScanPort.state",
        "ScanPort.unexpected",
        "ScanReports.html",
        "ScanReports.json",
        "ScanReports.zip",
        "ScanService.certificate",
        "ScanService.cpe",
        "ScanService.extraInfo",
        "ScanService.http",
        "ScanService.id",
        "ScanService.name",
        "ScanService.product",
        "ScanService.screenshotUrl",
        "ScanService.tlsVersions",
        "ScanService.tunnel",
        "ScanService.version",
        "ScanSite.id",
        "ScanSite.ips",
        "ScanSite.name",
        "ScanSummary.certificates",
        "ScanSummary.hostsTotal",
        "ScanSummary.hostsUp",
        "ScanSummary.missingPorts",
        "ScanSummary.openPorts",
        "ScanSummary.services",
        "ScanSummary.unexpectedPorts",
        "ScanTlsVersion.ciphers",
        "ScanTlsVersion.grade",
        "ScanTlsVersion.version",
    ];
    const MUTABLE: &[&str] = &[
        "Scan.baseline",
        "Scan.changes",
        "Scan.config",
        "Scan.schedule",
    ];

    #[test]
    fn every_field_under_scan_is_classified() {
        use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
        fn named(ty: &Type) -> &str {
            match &ty.base {
                BaseType::Named(n) => n.as_str(),
                BaseType::List(inner) => named(inner),
            }
        }
        let sdl = crate::graphql::sdl();
        let schema = async_graphql::parser::parse_schema(&sdl).expect("sdl");
        let objects: std::collections::HashMap<&str, _> = schema
            .definitions
            .iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => match &t.node.kind {
                    TypeKind::Object(o) => Some((t.node.name.node.as_str(), &o.fields)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let mut reached = std::collections::BTreeSet::new();
        let mut seen = std::collections::HashSet::new();
        let mut todo = vec!["Scan"];
        while let Some(ty) = todo.pop() {
            let Some(fields) = objects.get(ty) else {
                continue;
            };
            if !seen.insert(ty) {
                continue;
            }
            for field in fields.iter() {
                let name = format!("{ty}.{}", field.node.name.node);
                if !MUTABLE.contains(&name.as_str()) {
                    todo.push(named(&field.node.ty.node));
                }
                reached.insert(name);
            }
        }
        let listed: std::collections::BTreeSet<String> = IMMUTABLE
            .iter()
            .chain(MUTABLE)
            .map(|s| s.to_string())
            .collect();
        let new: Vec<_> = reached.difference(&listed).collect();
        let gone: Vec<_> = listed.difference(&reached).collect();
        assert!(
            new.is_empty() && gone.is_empty(),
            "fields under Scan changed: new {new:?}, gone {gone:?}. A field whose data can change \
             after COMPLETED must call answers::read_mutable and go in MUTABLE; else IMMUTABLE."
        );
    }
}
