//! Alert rules (issue 16): what a rule matches, the subject a change is about, and what one
//! scan's evaluation does — open, attach, resolve, count towards confirmation. No storage here
//! (`service::alerts` does it, in the transaction that records the scan's changes).
//!
//! A rule is matched against **items**: the change events a scan wrote, and the conditions
//! that still hold after it (a port still open, a drift or an expiry still there, a host still
//! down), which have no event of their own. Per (rule, subject):
//!
//! - an open alert (OPEN or ACKNOWLEDGED) takes the new matching events (deduplicated: no new
//!   alert, no new notice);
//! - otherwise a matching event — or, for a kind that describes a state (an unexpected port, an
//!   expiring certificate, a host down), a matching condition — opens one, once it has matched
//!   `confirm_after` consecutive scans that observed the subject;
//! - an open alert whose condition the scan saw end (it observed the subject and nothing
//!   matched) is resolved, for the kinds whose condition can end (see [`ends`]); the others are
//!   resolved by hand;
//! - a new alert within `cooldown` of the (rule, subject)'s last notified one is not notified.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use filter::{Fact, Field, SEVERITIES};

use super::changes::ChangeKind;
use super::findings::Severity;

/// Most consecutive scans a rule may wait for.
pub const MAX_CONFIRM_AFTER: u32 = 100;
/// Longest cooldown, minutes (30 days).
pub const MAX_COOLDOWN_MINUTES: i64 = 30 * 24 * 60;

/// A rule, parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: i32,
    pub kinds: Vec<ChangeKind>,
    pub min_severity: Severity,
    /// None: everything.
    pub scope: Option<filter::Expr>,
    /// 1: at the first matching scan.
    pub confirm_after: u32,
    pub cooldown: Duration,
}

impl Rule {
    /// Whether `item` is one of the rule's kinds, severe enough and in its scope.
    pub fn matches(&self, item: &Item) -> bool {
        self.kinds.contains(&item.kind)
            && item.severity >= self.min_severity
            && self.scope.as_ref().is_none_or(|s| s.matches(item))
    }
}

/// A change event of the scan (`event_id`), or a condition that still holds after it (none).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub event_id: Option<i32>,
    pub kind: ChangeKind,
    pub severity: Severity,
    pub subject: String,
    pub site: Option<String>,
    pub address: Option<String>,
    pub hostname: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<u16>,
    pub host_id: Option<i32>,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    /// Seconds until the certificate on the port expires (negative once past).
    pub cert_expires_in: Option<i64>,
    pub summary: String,
}

impl filter::Record for Item {
    fn facts(&self, field: Field) -> Vec<Fact<'_>> {
        fn text(t: &Option<String>) -> Vec<Fact<'_>> {
            t.as_deref().map(Fact::Text).into_iter().collect()
        }
        match field {
            Field::Site => text(&self.site),
            Field::Hostname => text(&self.hostname),
            Field::Protocol => text(&self.protocol),
            Field::Owner => text(&self.owner),
            Field::Address => self
                .address
                .as_deref()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .map(Fact::Address)
                .into_iter()
                .collect(),
            Field::Port => self
                .port
                .map(|p| Fact::Number(p.into()))
                .into_iter()
                .collect(),
            Field::Tag => self.tags.iter().map(|t| Fact::Text(t)).collect(),
            Field::Kind => vec![Fact::Text(self.kind.as_str())],
            Field::Severity => SEVERITIES
                .iter()
                .position(|s| *s == self.severity.as_str())
                .and_then(|i| u8::try_from(i).ok())
                .map(Fact::Severity)
                .into_iter()
                .collect(),
            Field::CertExpires => self
                .cert_expires_in
                .map(Fact::Duration)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    fn words(&self) -> Vec<String> {
        [&self.site, &self.address, &self.hostname]
            .into_iter()
            .flatten()
            .cloned()
            .chain([self.kind.as_str().to_owned(), self.summary.clone()])
            .collect()
    }
}

/// The subject of a host (`port` none) or of one of its ports.
pub fn subject(site: &str, address: &str, port: Option<(&str, u16)>) -> String {
    match port {
        Some((protocol, port)) => format!("{site}/{address}/{protocol}/{port}"),
        None => format!("{site}/{address}"),
    }
}

/// The subject of a scan config's runs (SCAN_FAILED).
pub fn config_subject(config_id: i32) -> String {
    format!("config:{config_id}")
}

/// The host subject a port subject belongs to (itself for the others).
fn host_of(subject: &str) -> &str {
    if subject.starts_with("config:") {
        return subject;
    }
    match subject.splitn(3, '/').collect::<Vec<_>>()[..] {
        [site, address, _] => &subject[..site.len() + 1 + address.len()],
        _ => subject,
    }
}

/// Kinds that describe a state: while it holds, it matches (it may open an alert by itself,
/// e.g. a rule created after a port became unexpected).
pub fn is_state(kind: ChangeKind) -> bool {
    use ChangeKind as K;
    matches!(
        kind,
        K::UnexpectedPort
            | K::ExpectedPortMissing
            | K::PingMismatch
            | K::CertExpiring
            | K::CertExpired
            | K::HostDown
    )
}

/// Kinds whose alert resolves when a scan sees the condition end: the states, a port opened
/// (it closed) and a scan failed (a scan of the config completed). Other changes happened
/// once; their alerts are resolved by hand.
pub fn ends(kind: ChangeKind) -> bool {
    is_state(kind) || matches!(kind, ChangeKind::PortOpened | ChangeKind::ScanFailed)
}

/// An open alert (OPEN or ACKNOWLEDGED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    pub id: i32,
    pub rule_id: i32,
    pub subject: String,
    pub kind: ChangeKind,
}

/// A (rule, subject) matched in consecutive scans, not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streak {
    pub rule_id: i32,
    pub subject: String,
    pub scans: u32,
    pub last_scan_id: Option<i32>,
    pub event_ids: Vec<i32>,
}

/// What one scan's evaluation sees.
pub struct Input<'a> {
    pub scan_id: Option<i32>,
    pub now: DateTime<Utc>,
    pub items: &'a [Item],
    /// Subjects the scan observed: hosts (their ports with them) and `config:<id>`.
    pub covered: &'a HashSet<String>,
    pub rules: &'a [Rule],
    pub open: &'a [OpenAlert],
    pub streaks: &'a [Streak],
    /// When the last notified alert of each (rule, subject) was opened.
    pub last_notified: &'a HashMap<(i32, String), DateTime<Utc>>,
}

/// An alert to open.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub rule_id: i32,
    /// The item that opened it (its subject, kind, place and summary).
    pub item: Item,
    pub severity: Severity,
    pub event_ids: Vec<i32>,
    /// False within the cooldown: opened without a notice.
    pub notify: bool,
}

/// What to write.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub open: Vec<NewAlert>,
    /// (alert, events to attach, the most severe of them).
    pub attach: Vec<(i32, Vec<i32>, Severity)>,
    pub resolve: Vec<i32>,
    /// Streaks to write (insert or replace).
    pub streaks: Vec<Streak>,
    /// Streaks that ended (rule, subject).
    pub drop_streaks: Vec<(i32, String)>,
}

/// The evaluation of one scan.
pub fn evaluate(input: &Input<'_>) -> Plan {
    let mut plan = Plan::default();
    let open: HashMap<(i32, &str), &OpenAlert> = input
        .open
        .iter()
        .map(|a| ((a.rule_id, a.subject.as_str()), a))
        .collect();
    let streaks: HashMap<(i32, &str), &Streak> = input
        .streaks
        .iter()
        .map(|s| ((s.rule_id, s.subject.as_str()), s))
        .collect();
    let covered = |subject: &str| input.covered.contains(host_of(subject));
    for rule in input.rules {
        let mut matched: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        for item in input.items.iter().filter(|i| rule.matches(i)) {
            matched.entry(item.subject.as_str()).or_default().push(item);
        }
        for (subject, items) in &matched {
            let events: Vec<i32> = items.iter().filter_map(|i| i.event_id).collect();
            let severity = items
                .iter()
                .map(|i| i.severity)
                .max()
                .unwrap_or(Severity::Info);
            if let Some(alert) = open.get(&(rule.id, *subject)) {
                if !events.is_empty() {
                    plan.attach.push((alert.id, events, severity));
                }
                continue;
            }
            let starts = items
                .iter()
                .any(|i| i.event_id.is_some() || is_state(i.kind));
            let (scans, mut event_ids) = match streaks.get(&(rule.id, *subject)) {
                Some(s) if s.last_scan_id.is_some() && s.last_scan_id == input.scan_id => continue,
                Some(s) => (s.scans + 1, s.event_ids.clone()),
                None if starts => (1, Vec::new()),
                None => continue,
            };
            event_ids.extend(events);
            if scans < rule.confirm_after.max(1) {
                plan.streaks.push(Streak {
                    rule_id: rule.id,
                    subject: (*subject).to_owned(),
                    scans,
                    last_scan_id: input.scan_id,
                    event_ids,
                });
                continue;
            }
            if streaks.contains_key(&(rule.id, *subject)) {
                plan.drop_streaks.push((rule.id, (*subject).to_owned()));
            }
            // The first event, else the first condition, stands for the alert.
            let first = items
                .iter()
                .find(|i| i.event_id.is_some())
                .unwrap_or(&items[0]);
            let notify = input
                .last_notified
                .get(&(rule.id, (*subject).to_owned()))
                .is_none_or(|at| input.now - *at >= rule.cooldown);
            plan.open.push(NewAlert {
                rule_id: rule.id,
                item: (*first).clone(),
                severity,
                event_ids,
                notify,
            });
        }
        // Subjects the scan observed where nothing matched: their conditions ended.
        for alert in input.open.iter().filter(|a| a.rule_id == rule.id) {
            if !matched.contains_key(alert.subject.as_str())
                && covered(&alert.subject)
                && ends(alert.kind)
            {
                plan.resolve.push(alert.id);
            }
        }
        for s in input.streaks.iter().filter(|s| s.rule_id == rule.id) {
            if !matched.contains_key(s.subject.as_str()) && covered(&s.subject) {
                plan.drop_streaks.push((rule.id, s.subject.clone()));
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(event: Option<i32>, kind: ChangeKind, port: Option<u16>) -> Item {
        let subject = subject("lab", "127.0.0.1", port.map(|p| ("tcp", p)));
        Item {
            event_id: event,
            kind,
            severity: kind.severity(),
            subject,
            site: Some("lab".into()),
            address: Some("127.0.0.1".into()),
            hostname: None,
            protocol: port.map(|_| "tcp".into()),
            port,
            host_id: Some(1),
            tags: vec!["prod".into()],
            owner: None,
            cert_expires_in: None,
            summary: format!("{kind}"),
        }
    }

    fn rule(kinds: &[ChangeKind], confirm_after: u32) -> Rule {
        Rule {
            id: 7,
            kinds: kinds.to_vec(),
            min_severity: Severity::Info,
            scope: None,
            confirm_after,
            cooldown: Duration::zero(),
        }
    }

    struct World {
        rules: Vec<Rule>,
        open: Vec<OpenAlert>,
        streaks: Vec<Streak>,
        notified: HashMap<(i32, String), DateTime<Utc>>,
        covered: HashSet<String>,
    }

    impl World {
        fn new(rules: Vec<Rule>) -> Self {
            Self {
                rules,
                open: Vec::new(),
                streaks: Vec::new(),
                notified: HashMap::new(),
                covered: ["lab/127.0.0.1".to_owned()].into(),
            }
        }

        /// Evaluates a scan and applies the plan as the service would.
        fn scan(&mut self, scan_id: i32, items: &[Item]) -> Plan {
            let now = Utc::now();
            let plan = evaluate(&Input {
                scan_id: Some(scan_id),
                now,
                items,
                covered: &self.covered,
                rules: &self.rules,
                open: &self.open,
                streaks: &self.streaks,
                last_notified: &self.notified,
            });
            self.open.retain(|a| !plan.resolve.contains(&a.id));
            for (i, a) in plan.open.iter().enumerate() {
                self.open.push(OpenAlert {
                    id: scan_id * 100 + i32::try_from(i).unwrap_or(0),
                    rule_id: a.rule_id,
                    subject: a.item.subject.clone(),
                    kind: a.item.kind,
                });
                if a.notify {
                    self.notified
                        .insert((a.rule_id, a.item.subject.clone()), now);
                }
            }
            self.streaks
                .retain(|s| !plan.drop_streaks.contains(&(s.rule_id, s.subject.clone())));
            for s in &plan.streaks {
                self.streaks
                    .retain(|o| (o.rule_id, &o.subject) != (s.rule_id, &s.subject));
                self.streaks.push(s.clone());
            }
            plan
        }
    }

    #[test]
    fn an_event_opens_one_alert_and_the_same_state_again_does_nothing() {
        let mut w = World::new(vec![rule(&[ChangeKind::PortOpened], 1)]);
        let plan = w.scan(1, &[item(Some(10), ChangeKind::PortOpened, Some(8080))]);
        assert_eq!(plan.open.len(), 1);
        assert_eq!(plan.open[0].event_ids, [10]);
        assert!(plan.open[0].notify);
        // The port is still open: a condition, no event — nothing new, nothing resolved.
        let plan = w.scan(2, &[item(None, ChangeKind::PortOpened, Some(8080))]);
        assert_eq!(plan, Plan::default());
        // A condition alone never opens an alert for a change kind.
        let mut fresh = World::new(vec![rule(&[ChangeKind::PortOpened], 1)]);
        assert!(
            fresh
                .scan(1, &[item(None, ChangeKind::PortOpened, Some(22))])
                .open
                .is_empty()
        );
    }

    #[test]
    fn later_events_attach_and_the_end_of_the_condition_resolves() {
        let mut w = World::new(vec![rule(
            &[ChangeKind::UnexpectedPort, ChangeKind::PortOpened],
            1,
        )]);
        let plan = w.scan(
            1,
            &[
                item(Some(1), ChangeKind::PortOpened, Some(8080)),
                item(Some(2), ChangeKind::UnexpectedPort, Some(8080)),
            ],
        );
        assert_eq!(plan.open.len(), 1, "one alert per (rule, subject)");
        assert_eq!(plan.open[0].event_ids, [1, 2]);
        let id = w.open[0].id;
        let plan = w.scan(2, &[item(Some(3), ChangeKind::PortOpened, Some(8080))]);
        assert_eq!(plan.attach, [(id, vec![3], Severity::High)]);
        // The scan saw the host and nothing of the port: closed.
        let plan = w.scan(3, &[]);
        assert_eq!(plan.resolve, [id]);
        // A scan that did not observe the host resolves nothing.
        let mut w = World::new(vec![rule(&[ChangeKind::UnexpectedPort], 1)]);
        w.scan(1, &[item(Some(1), ChangeKind::UnexpectedPort, Some(22))]);
        w.covered.clear();
        assert!(w.scan(2, &[]).resolve.is_empty());
    }

    #[test]
    fn a_state_opens_by_itself_and_changes_are_resolved_by_hand() {
        let mut w = World::new(vec![rule(
            &[ChangeKind::UnexpectedPort, ChangeKind::ServiceChanged],
            1,
        )]);
        let plan = w.scan(1, &[item(None, ChangeKind::UnexpectedPort, Some(22))]);
        assert_eq!(plan.open.len(), 1);
        assert!(plan.open[0].event_ids.is_empty());
        let plan = w.scan(
            2,
            &[
                item(None, ChangeKind::UnexpectedPort, Some(22)),
                item(Some(5), ChangeKind::ServiceChanged, Some(443)),
            ],
        );
        assert!(plan.resolve.is_empty(), "port 22 is still unexpected");
        let plan = w.scan(3, &[]);
        assert_eq!(
            plan.resolve.len(),
            1,
            "the unexpected port ended; the service change stays"
        );
        assert_eq!(w.open.len(), 1);
        assert_eq!(w.open[0].kind, ChangeKind::ServiceChanged);
    }

    #[test]
    fn confirm_after_two_opens_on_the_second_scan_only() {
        let mut w = World::new(vec![rule(&[ChangeKind::PortOpened], 2)]);
        let plan = w.scan(1, &[item(Some(1), ChangeKind::PortOpened, Some(8080))]);
        assert!(plan.open.is_empty());
        assert_eq!(plan.streaks.len(), 1);
        // The same scan evaluated twice counts once.
        assert!(
            w.scan(1, &[item(None, ChangeKind::PortOpened, Some(8080))])
                .open
                .is_empty()
        );
        let plan = w.scan(2, &[item(None, ChangeKind::PortOpened, Some(8080))]);
        assert_eq!(plan.open.len(), 1);
        assert_eq!(plan.open[0].event_ids, [1]);
        assert_eq!(plan.drop_streaks.len(), 1);
        // A streak broken by a scan that saw the port closed starts over.
        let mut w = World::new(vec![rule(&[ChangeKind::PortOpened], 2)]);
        w.scan(1, &[item(Some(1), ChangeKind::PortOpened, Some(8080))]);
        let plan = w.scan(2, &[]);
        assert_eq!(plan.drop_streaks.len(), 1);
        assert!(
            w.scan(3, &[item(Some(2), ChangeKind::PortOpened, Some(8080))])
                .open
                .is_empty()
        );
    }

    #[test]
    fn cooldown_opens_without_a_notice() {
        let mut r = rule(&[ChangeKind::PortOpened], 1);
        r.cooldown = Duration::minutes(60);
        let mut w = World::new(vec![r]);
        assert!(
            w.scan(1, &[item(Some(1), ChangeKind::PortOpened, Some(80))])
                .open[0]
                .notify
        );
        assert_eq!(w.scan(2, &[]).resolve.len(), 1);
        let plan = w.scan(3, &[item(Some(2), ChangeKind::PortOpened, Some(80))]);
        assert_eq!(plan.open.len(), 1);
        assert!(!plan.open[0].notify, "within the cooldown");
        // Without a cooldown it is notified again.
        let mut w = World::new(vec![rule(&[ChangeKind::PortOpened], 1)]);
        w.scan(1, &[item(Some(1), ChangeKind::PortOpened, Some(80))]);
        w.scan(2, &[]);
        assert!(
            w.scan(3, &[item(Some(2), ChangeKind::PortOpened, Some(80))])
                .open[0]
                .notify
        );
    }

    #[test]
    fn severity_and_scope_narrow_a_rule() {
        let mut r = rule(&[ChangeKind::PortOpened, ChangeKind::HttpChanged], 1);
        r.min_severity = Severity::Medium;
        r.scope = Some(filter::parse("port:443 tag:prod").expect("filter"));
        let mut w = World::new(vec![r]);
        let plan = w.scan(
            1,
            &[
                item(Some(1), ChangeKind::PortOpened, Some(80)),
                item(Some(2), ChangeKind::HttpChanged, Some(443)),
                item(Some(3), ChangeKind::PortOpened, Some(443)),
            ],
        );
        assert_eq!(plan.open.len(), 1);
        assert_eq!(plan.open[0].event_ids, [3]);
        let mut cert = item(None, ChangeKind::CertExpiring, Some(443));
        cert.cert_expires_in = Some(10 * 86_400);
        let mut r = rule(&[ChangeKind::CertExpiring], 1);
        r.scope = Some(filter::parse("cert.expires<14d").expect("filter"));
        assert!(r.matches(&cert));
        cert.cert_expires_in = Some(20 * 86_400);
        assert!(!r.matches(&cert));
    }

    #[test]
    fn scan_failures_are_per_config_and_end_with_a_completed_scan() {
        let mut w = World::new(vec![rule(&[ChangeKind::ScanFailed], 1)]);
        w.covered = [config_subject(3)].into();
        let mut failed = item(Some(9), ChangeKind::ScanFailed, None);
        failed.subject = config_subject(3);
        assert_eq!(w.scan(1, &[failed]).open.len(), 1);
        assert_eq!(w.scan(2, &[]).resolve.len(), 1);
        assert_eq!(host_of("lab/10.0.0.1/tcp/22"), "lab/10.0.0.1");
        assert_eq!(host_of("lab/10.0.0.1"), "lab/10.0.0.1");
        assert_eq!(host_of("config:3"), "config:3");
    }
}
