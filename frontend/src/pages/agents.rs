//! Agents: the remote scanners that dial in (`sneakyscan agent`), their pool, state, version
//! and running scans, refreshed every 10 s. ADMINs create them (the token is shown once, with
//! the command that starts the agent) and revoke them.

use leptos::prelude::*;

use crate::api::ops::{self, Agents, CreateAgent, RevokeAgent};
use crate::api::remote::{Remote, act, act_on};
use crate::api::{self, ApiError, Role};
use crate::app::use_user;
use crate::components::confirm::ConfirmButton;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::components::token_box::TokenBox;
use crate::format;

/// How often the list is read again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// The command that starts an agent against this server.
pub fn agent_command(origin: &str) -> String {
    format!("SNEAKYSCAN_AGENT_TOKEN=<token> sneakyscan agent --server {origin}")
}

#[component]
pub fn AgentsPage() -> impl IntoView {
    let agents = Remote::new(|| async {
        api::call::<Agents>(ops::agents::Variables).await.map(|d| {
            d.agents
                .edges
                .into_iter()
                .map(|e| e.node)
                .collect::<Vec<_>>()
        })
    });
    if let Ok(tick) = set_interval_with_handle(move || agents.refetch(), REFRESH) {
        on_cleanup(move || tick.clear());
    }
    let admin = use_user().role == Role::Admin;
    let name = RwSignal::new(String::new());
    let pool = RwSignal::new(String::new());
    let token = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let origin = window()
        .location()
        .origin()
        .unwrap_or_else(|_| "https://<server>".to_owned());
    let command = agent_command(&origin);

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = ops::create_agent::CreateAgentInput {
            name: name.get_untracked().trim().to_owned(),
            pool: pool.get_untracked().trim().to_owned(),
        };
        if input.name.is_empty() || input.pool.is_empty() {
            error.set(Some(ApiError::local("Give the agent a name and a pool.")));
            return;
        }
        let create = api::call::<CreateAgent>(ops::create_agent::Variables { input });
        act(busy, error, create, move |d| {
            token.try_set(Some(d.create_agent.token));
            name.try_set(String::new());
            agents.refetch();
        });
    };

    view! {
        <div class="page-head"><h1>"Agents"</h1></div>
        {admin.then(|| view! {
            <section class="card" aria-labelledby="new-agent-title">
                <h2 id="new-agent-title">"New agent"</h2>
                <p class="hint">
                    "An agent runs on a machine inside a network this server cannot reach. It dials out to this server, runs the scans of its pool and sends the results back. A config site names the pool that scans it: "
                    <code>"agent_pool: <pool>"</code> "."
                </p>
                <form class="inline-form" on:submit=create>
                    <label for="agent-name">"Name"</label>
                    <input id="agent-name" type="text" autocomplete="off" required placeholder="branch-office-1" bind:value=name />
                    <label for="agent-pool">"Pool"</label>
                    <input id="agent-pool" type="text" autocomplete="off" required placeholder="branch-office" bind:value=pool />
                    <button type="submit" class="button" disabled=move || busy.get()>"Create agent"</button>
                </form>
                {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
                {
                    let command = command.clone();
                    move || token.get().map(|t| {
                        let command = command.clone();
                        view! {
                            <TokenBox token=t id="agent-token" label="Agent token">
                                <p class="hint">"Start it on the remote machine (nmap installed there):"</p>
                                <pre class="mono">{command}</pre>
                            </TokenBox>
                        }
                    })
                }
            </section>
        })}
        <section class="card" aria-labelledby="agents-title">
            <h2 id="agents-title">"Remote agents"</h2>
            <p class="hint">"An agent is online while it is connected. The scans of an agent that goes away for longer than a lease are taken over by another agent of its pool."</p>
            {move || show(agents.get(), move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No agent yet."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Pool"</th><th scope="col">"State"</th>
                            <th scope="col">"Running scans"</th><th scope="col">"Version"</th>
                            <th scope="col">"Last seen"</th><th scope="col">"Last change"</th>
                            {admin.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|a| {
                                use ops::agents::AgentStatus;
                                let state = match a.status {
                                    AgentStatus::ONLINE => view! { <span class="badge good">"online"</span> }.into_any(),
                                    AgentStatus::REVOKED => view! { <span class="badge">"revoked"</span> }.into_any(),
                                    _ => view! { <span class="badge bad">"offline"</span> }.into_any(),
                                };
                                let change = a.events.first().map(|e| format!(
                                    "{} {}",
                                    if e.kind == "AGENT_ONLINE" { "online since" } else { "offline since" },
                                    format::timestamp(&e.at)
                                )).unwrap_or_else(|| "never connected".to_owned());
                                let id = a.id.clone();
                                let revocable = admin && a.revoked_at.is_none();
                                view! {
                                    <tr data-agent=a.name.clone()>
                                        <td class="mono">{a.name.clone()}</td>
                                        <td class="mono">{a.pool.clone()}</td>
                                        <td>{state}</td>
                                        <td>{a.running_jobs}</td>
                                        <td>{a.version.clone().unwrap_or_else(|| "—".to_owned())}</td>
                                        <td class="nowrap">{format::maybe_timestamp(a.last_seen_at.as_deref())}</td>
                                        <td class="nowrap">{change}</td>
                                        {admin.then(|| view! {
                                            <td>{revocable.then(|| view! {
                                                <ConfirmButton label="Revoke" what=format!("agent “{}”", a.name) disabled=busy
                                                    on_confirm=move || {
                                                        let id = id.clone();
                                                        act_on(busy, error,
                                                            api::body::<RevokeAgent>(ops::revoke_agent::Variables { id }),
                                                            move |_| agents.refetch());
                                                    }
                                                />
                                            })}</td>
                                        })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_command_names_this_server_and_keeps_the_token_out_of_argv() {
        let cmd = agent_command("https://scans.example.org");
        assert_eq!(
            cmd,
            "SNEAKYSCAN_AGENT_TOKEN=<token> sneakyscan agent --server https://scans.example.org"
        );
        assert!(!cmd.contains("--token"));
    }
}
