//! API keys: create (the token is shown once, with a copy button), list, revoke.

use leptos::prelude::*;

use crate::api::ops::{self, ApiKeys, CreateApiKey, RevokeApiKey};
use crate::api::remote::{Remote, act, act_on};
use crate::api::{self, ApiError, Role};
use crate::app::use_user;
use crate::components::confirm::ConfirmButton;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::components::token_box::TokenBox;
use crate::format;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let keys = Remote::new(|| async {
        api::call::<ApiKeys>(ops::api_keys::Variables)
            .await
            .map(|d| d.api_keys)
    });
    let my_role = use_user().role;
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(my_role.as_str().to_owned());
    let expires = RwSignal::new(String::new());
    let token = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let label = name.get_untracked().trim().to_owned();
        if label.is_empty() {
            error.set(Some(ApiError::local("Give the key a name.")));
            return;
        }
        let expires_at = Some(expires.get_untracked())
            .filter(|d| !d.is_empty())
            .map(|d| format!("{d}T00:00:00Z"));
        let input = ops::create_api_key::CreateApiKeyInput {
            name: label,
            role: Role::parse(&role.get_untracked()),
            expires_at,
        };
        let create = api::call::<CreateApiKey>(ops::create_api_key::Variables { input });
        act(busy, error, create, move |d| {
            token.try_set(Some(d.create_api_key.token));
            name.try_set(String::new());
            keys.refetch();
        });
    };
    let roles = Role::ALL
        .into_iter()
        .filter(move |r| match my_role {
            Role::Admin => true,
            Role::Operator => *r != Role::Admin,
            Role::Viewer => *r == Role::Viewer,
        })
        .map(|r| view! { <option value=r.as_str() selected=r == my_role>{r.as_str()}</option> })
        .collect_view();

    view! {
        <div class="page-head"><h1>"API keys"</h1></div>
        <section class="card" aria-labelledby="new-key-title">
            <h2 id="new-key-title">"New key"</h2>
            <p class="hint">"Scripts send it as " <code>"Authorization: Bearer <token>"</code> ". A key can never do more than its role."</p>
            <form class="inline-form" on:submit=create>
                <label for="key-name">"Name"</label>
                <input id="key-name" type="text" autocomplete="off" required bind:value=name />
                <label for="key-role">"Role"</label>
                <select id="key-role" bind:value=role>{roles}</select>
                <label for="key-expires">"Expires (optional)"</label>
                <input id="key-expires" type="date" bind:value=expires />
                <button type="submit" class="button" disabled=move || busy.get()>"Create key"</button>
            </form>
            {move || error.get().map(|e| view! { <ErrorBox error=e /> })}
            {move || token.get().map(|t| view! {
                <TokenBox token=t id="new-token" label="New token" />
            })}
        </section>
        <section class="card" aria-labelledby="keys-title">
            <h2 id="keys-title">"Keys"</h2>
            {move || show(keys.get(), move |list| {
                if list.is_empty() {
                    return view! { <Empty>"No API keys."</Empty> }.into_any();
                }
                view! {
                    <div class="table-wrap">
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Token starts"</th><th scope="col">"Role"</th>
                            <th scope="col">"Created"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th>
                            <th scope="col">"Status"</th>
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|k| {
                                let id = k.id.clone();
                                let revoked = k.revoked_at.is_some();
                                view! {
                                    <tr data-key=k.name.clone()>
                                        <td>{k.name.clone()}</td>
                                        <td class="mono">{k.prefix}"…"</td>
                                        <td>{k.role.as_str()}</td>
                                        <td class="nowrap">{format::timestamp(&k.created_at)}</td>
                                        <td class="nowrap">{format::maybe_timestamp(k.expires_at.as_deref())}</td>
                                        <td class="nowrap">{format::maybe_timestamp(k.last_used_at.as_deref())}</td>
                                        <td>
                                            {if revoked {
                                                view! { <span class="badge bad">"revoked"</span> }.into_any()
                                            } else {
                                                view! {
                                                    <ConfirmButton label="Revoke" what=format!("key “{}”", k.name) disabled=busy
                                                        on_confirm=move || {
                                                            let id = id.clone();
                                                            act_on(busy, error,
                                                                api::body::<RevokeApiKey>(ops::revoke_api_key::Variables { id }),
                                                                move |_| keys.refetch());
                                                        }
                                                    />
                                                }.into_any()
                                            }}
                                        </td>
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
