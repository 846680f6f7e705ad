//! Websocket operations run with the rights their socket has *now*: before each operation the
//! socket's session or API key is checked again (ended, revoked, expired, disabled, demoted),
//! and the fresh actor replaces the one from `connection_init` for that operation.
//! (The socket itself is closed as soon as its rights change: `http::ws`.)

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Request, ServerResult};
use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::error::{AppError, GqlError};
use crate::graphql::context::{RequestAuth, SocketPrincipal};

pub struct SocketReauth;

impl ExtensionFactory for SocketReauth {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SocketReauth)
    }
}

#[async_trait::async_trait]
impl Extension for SocketReauth {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let Some(principal) = ctx.data_opt::<SocketPrincipal>() else {
            return next.run(ctx, request).await;
        };
        let (Some(db), Some(settings)) = (
            ctx.data_opt::<DatabaseConnection>(),
            ctx.data_opt::<Arc<Settings>>(),
        ) else {
            return Err(refusal(AppError::internal(anyhow::anyhow!(
                "schema data missing"
            ))));
        };
        let actor = principal
            .current(db, settings.auth.session_absolute_hours * 3600)
            .await
            .map_err(refusal)?;
        let client_ip = ctx
            .data_opt::<RequestAuth>()
            .map(|a| a.client_ip.clone())
            .unwrap_or_default();
        let request = request.data(RequestAuth {
            actor: Some(actor),
            session: None,
            client_ip,
        });
        next.run(ctx, request).await
    }
}

pub fn refusal(err: AppError) -> async_graphql::ServerError {
    let err: async_graphql::Error = GqlError::from(err).into();
    err.into_server_error(async_graphql::Pos::default())
}
