//! GraphQL for remote agents: `agents` (VIEWER), `createAgent` (ADMIN; the token is shown
//! once), `revokeAgent` (ADMIN).

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::GqlResult;
use crate::graphql::connection::connection;
use crate::graphql::context::{ContextExt, parse_id};
use crate::jobs::runner::Runner;
use crate::service::agents;
use crate::service::pagination::PageRequest;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum AgentStatus {
    /// Connected: seen within one lease (`jobs.heartbeat_secs × missed_heartbeats`).
    Online,
    Offline,
    /// Its token no longer works.
    Revoked,
}

/// A remote scanner (`sneakyscan agent`) that dials in and runs the scans of its pool.
pub struct Agent(pub agents::AgentInfo);

#[Object]
impl Agent {
    async fn id(&self) -> ID {
        ID(self.0.row.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.row.name
    }
    /// Config sites that name this pool (`agent_pool`) are scanned by its agents.
    async fn pool(&self) -> &str {
        &self.0.row.pool
    }
    async fn status(&self) -> AgentStatus {
        if self.0.row.revoked_at.is_some() {
            AgentStatus::Revoked
        } else if self.0.online {
            AgentStatus::Online
        } else {
            AgentStatus::Offline
        }
    }
    async fn last_seen_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.last_seen_at
    }
    /// The version the agent reported when it last connected.
    async fn version(&self) -> Option<&str> {
        self.0.row.version.as_deref()
    }
    /// Scans RUNNING on it now.
    async fn running_jobs(&self) -> i32 {
        i32::try_from(self.0.running_jobs).unwrap_or(i32::MAX)
    }
    /// What `Scan.worker` names while it runs a scan: `agent:<name>`.
    async fn worker(&self) -> String {
        agents::worker_name(&self.0.row.name)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.row.created_at
    }
    async fn created_by(&self) -> &str {
        &self.0.row.created_by
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.row.revoked_at
    }
    /// Its latest changes of state (AGENT_ONLINE / AGENT_OFFLINE), newest first.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10, validator(minimum = 1, maximum = 100))] first: i32,
    ) -> GqlResult<Vec<AgentEvent>> {
        let limit = u64::try_from(first).unwrap_or(10);
        Ok(
            agents::events(ctx.db(), ctx.actor()?, &[self.0.row.id], limit)
                .await?
                .into_iter()
                .map(|e| AgentEvent {
                    kind: e.kind,
                    at: e.at,
                    detail: e.detail,
                })
                .collect(),
        )
    }
}

#[derive(SimpleObject)]
pub struct AgentEvent {
    /// `AGENT_ONLINE` or `AGENT_OFFLINE`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub detail: Option<String>,
}

connection!(AgentConnection, AgentEdge, Agent);

#[derive(SimpleObject)]
pub struct CreatedAgent {
    pub agent: Agent,
    /// The agent's secret token: shown this once. Start the agent with
    /// `SNEAKYSCAN_AGENT_TOKEN=<token> sneakyscan agent --server <this server's URL>`.
    pub token: String,
}

#[derive(InputObject)]
pub struct CreateAgentInput {
    /// 1-64 letters, digits, `.`, `_` or `-`; unique.
    pub name: String,
    /// The pool it serves (same characters): config sites name it as `agent_pool`.
    pub pool: String,
}

#[derive(Default)]
pub struct AgentQuery;

#[Object]
impl AgentQuery {
    /// Remote agents, newest first (VIEWER).
    async fn agents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<AgentConnection> {
        let page = PageRequest::parse(first, after.as_deref())?;
        let ttl = ctx.data_unchecked::<Runner>().lease_ttl();
        let page = agents::list(ctx.db(), ctx.actor()?, ttl, page).await?;
        Ok(AgentConnection::from_page(page, |a| a.row.id, Agent))
    }
}

#[derive(Default)]
pub struct AgentMutation;

#[Object]
impl AgentMutation {
    /// Creates an agent (ADMIN). The token is in the answer only.
    async fn create_agent(
        &self,
        ctx: &Context<'_>,
        input: CreateAgentInput,
    ) -> GqlResult<CreatedAgent> {
        let (row, token) = agents::create(ctx.db(), ctx.actor()?, &input.name, &input.pool).await?;
        Ok(CreatedAgent {
            agent: Agent(agents::AgentInfo {
                row,
                online: false,
                running_jobs: 0,
            }),
            token,
        })
    }

    /// Revokes an agent (ADMIN): its token stops working and its connection is closed within
    /// a heartbeat; scans it was running are taken over by another agent of its pool, or end
    /// INTERRUPTED.
    async fn revoke_agent(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Agent> {
        let row = agents::revoke(ctx.db(), ctx.actor()?, parse_id(&id, "agent")?).await?;
        Ok(Agent(agents::AgentInfo {
            row,
            online: false,
            running_jobs: 0,
        }))
    }
}
