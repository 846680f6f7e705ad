//! Every GraphQL operation the app sends. Each lives in a `.graphql` file under
//! `frontend/graphql/` and is checked against `schema.graphql` when this crate compiles: a
//! field the server does not have, or a wrong variable type, is a build error.

#![allow(clippy::all, missing_docs)]

use graphql_client::GraphQLQuery;

pub use super::enums::{
    ChangeKind, ChannelKind, FindingCode, HostStatus, MisfirePolicy, OverlapPolicy, PortState,
    Protocol, ScanPhase, ScheduleRunOutcome, Severity, TlsGrade, ViewPage,
};
pub use super::{Role, ScanStatus};

/// The schema's custom scalar, as the app holds it (RFC 3339 text; `ID` is a String already).
pub type DateTime = String;

// rustfmt re-indents attributes inside macro_rules on every run; keep it out.
#[rustfmt::skip]
macro_rules! operation {
    ($name:ident, $file:tt) => {
        #[derive(GraphQLQuery)]
        #[graphql(
            schema_path = "../schema.graphql",
            query_path = $file,
            response_derives = "Clone",
            variables_derives = "Clone",
            extern_enums(
                "Role", "ScanStatus", "ScanPhase", "PortState", "Protocol", "HostStatus",
                "TlsGrade", "FindingCode", "Severity", "ChangeKind", "OverlapPolicy",
                "MisfirePolicy", "ScheduleRunOutcome", "ViewPage", "ChannelKind"
            ),
            skip_serializing_none
        )]
        pub struct $name;
    };
}

operation!(Me, "graphql/session.graphql");
operation!(Login, "graphql/session.graphql");
operation!(Logout, "graphql/session.graphql");

operation!(Scans, "graphql/scans.graphql");
operation!(ScanDetail, "graphql/scans.graphql");
operation!(ScanChunks, "graphql/scans.graphql");
operation!(ScanFindings, "graphql/scans.graphql");
operation!(ScanHosts, "graphql/scans.graphql");
operation!(StartScan, "graphql/scans.graphql");
operation!(CancelScan, "graphql/scans.graphql");
operation!(DeleteScan, "graphql/scans.graphql");

operation!(ScanConfigs, "graphql/configs.graphql");
operation!(ScanConfigDetail, "graphql/configs.graphql");
operation!(CreateScanConfig, "graphql/configs.graphql");
operation!(UpdateScanConfig, "graphql/configs.graphql");
operation!(DeleteScanConfig, "graphql/configs.graphql");
operation!(ValidateScanConfig, "graphql/configs.graphql");

operation!(SettingsPage, "graphql/admin.graphql");
operation!(UpdateSettings, "graphql/admin.graphql");
operation!(ApplyRetention, "graphql/admin.graphql");
operation!(CreateUser, "graphql/admin.graphql");
operation!(UpdateUser, "graphql/admin.graphql");
operation!(ApiKeys, "graphql/admin.graphql");
operation!(CreateApiKey, "graphql/admin.graphql");
operation!(RevokeApiKey, "graphql/admin.graphql");
operation!(Workers, "graphql/admin.graphql");
operation!(Agents, "graphql/admin.graphql");
operation!(CreateAgent, "graphql/admin.graphql");
operation!(RevokeAgent, "graphql/admin.graphql");

operation!(Hosts, "graphql/history.graphql");
operation!(HostDetail, "graphql/history.graphql");
operation!(HostChanges, "graphql/history.graphql");
operation!(UpdateHost, "graphql/history.graphql");
operation!(Changes, "graphql/history.graphql");
operation!(ScanChanges, "graphql/history.graphql");
operation!(Certificates, "graphql/history.graphql");
operation!(ScanDiff, "graphql/history.graphql");
operation!(DiffChoices, "graphql/history.graphql");
operation!(SavedViews, "graphql/history.graphql");
operation!(SaveView, "graphql/history.graphql");
operation!(DeleteSavedView, "graphql/history.graphql");
operation!(InventoryTrends, "graphql/history.graphql");
operation!(DashboardTrends, "graphql/history.graphql");

operation!(Schedules, "graphql/schedules.graphql");
operation!(ScheduleRuns, "graphql/schedules.graphql");
operation!(PreviewSchedule, "graphql/schedules.graphql");
operation!(CreateSchedule, "graphql/schedules.graphql");
operation!(UpdateSchedule, "graphql/schedules.graphql");
operation!(PauseSchedule, "graphql/schedules.graphql");
operation!(RunScheduleNow, "graphql/schedules.graphql");
operation!(DeleteSchedule, "graphql/schedules.graphql");

// Alerts: answers read as JSON values (`api::run`), so these operations add no
// decoding code; the documents are still checked against the schema here.
operation!(AlertsPage, "graphql/alerts.graphql");
operation!(AlertDetail, "graphql/alerts.graphql");
operation!(AcknowledgeAlert, "graphql/alerts.graphql");
operation!(ResolveAlert, "graphql/alerts.graphql");
operation!(CreateAlertRule, "graphql/alerts.graphql");
operation!(UpdateAlertRule, "graphql/alerts.graphql");
operation!(CreateChannel, "graphql/alerts.graphql");
operation!(RetryDelivery, "graphql/alerts.graphql");
operation!(DeleteAlertRule, "graphql/alerts.graphql");
operation!(DeleteChannel, "graphql/alerts.graphql");
operation!(TestChannel, "graphql/alerts.graphql");
operation!(GenerateWebhookSecret, "graphql/alerts.graphql");
operation!(AlertUpdates, "graphql/alerts.graphql");

operation!(ScanUpdates, "graphql/subscriptions.graphql");
operation!(ScanProgress, "graphql/subscriptions.graphql");
