//! One scan: live phase/percent/log while it runs; summary, findings, sites → IPs → ports →
//! services (HTTP, TLS, certificates, screenshots), reports and the command lines that ran.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ops::{
    self, CancelScan, DeleteScan, ScanChunks, ScanDetail, ScanFindings, ScanHosts, ScanProgress,
};
use crate::api::remote::{Remote, act_on};
use crate::api::{self, ApiError, ScanStatus};
use crate::app::use_user;
use crate::components::changes::ScanChanges;
use crate::components::confirm::ConfirmButton;
use crate::components::error_box::{Empty, ErrorBox, show};
use crate::components::pager::{Cursors, Pager};
use crate::components::status::{ProgressBar, StatusBadge};
use crate::format;
use crate::route::{Route, use_router};

type Scan = ops::scan_detail::ScanDetailScan;
type FindingRow = ops::scan_findings::ScanFindingsScanFindingsEdgesNode;
type Host = ops::scan_hosts::ScanHostsScanHostsEdgesNode;
type Port = ops::scan_hosts::ScanHostsScanHostsEdgesNodePorts;
type Service = ops::scan_hosts::ScanHostsScanHostsEdgesNodePortsService;

/// The latest progress event.
#[derive(Clone, Debug, PartialEq)]
struct Live {
    status: ScanStatus,
    phase: crate::api::enums::ScanPhase,
    percent: f64,
    hosts_up: i64,
    open_ports: i64,
}

/// Shows an argv as one shell-like line (words with spaces quoted).
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if w.is_empty() || w.contains([' ', '"', '\'']) {
                format!("'{}'", w.replace('\'', "'\\''"))
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[component]
pub fn ScanDetailPage(id: String) -> impl IntoView {
    let scan = RwSignal::new(None::<Result<Option<Scan>, ApiError>>);
    let live = RwSignal::new(None::<Live>);
    let log = RwSignal::new(Vec::<String>::new());
    let action_error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let router = use_router();
    let can_operate = use_user().role.can_operate();

    let load = {
        let id = id.clone();
        move || {
            let id = id.clone();
            spawn_local(async move {
                let result = api::call::<ScanDetail>(ops::scan_detail::Variables { id })
                    .await
                    .map(|d| d.scan);
                scan.try_set(Some(result));
            });
        }
    };
    load();
    {
        let load = load.clone();
        api::ws::subscribe::<ScanProgress>(
            ops::scan_progress::Variables {
                scan_id: id.clone(),
            },
            move |data| {
                let ev = data.scan_progress;
                if let Some(message) = ev.message.clone()
                    && log.with_untracked(|l| l.last() != Some(&message))
                {
                    log.update(|l| {
                        l.push(message);
                        let excess = l.len().saturating_sub(200);
                        l.drain(..excess);
                    });
                }
                let was_running = scan
                    .with_untracked(|s| matches!(s, Some(Ok(Some(s))) if !s.status.is_terminal()));
                live.set(Some(Live {
                    status: ev.status,
                    phase: ev.phase,
                    percent: ev.percent,
                    hosts_up: ev.hosts_up,
                    open_ports: ev.open_ports,
                }));
                if ev.status.is_terminal() && was_running {
                    load();
                }
            },
            move |message| action_error.set(Some(ApiError::local(message))),
            // scanProgress starts again with the current state: nothing to do.
            || {},
        );
    }

    let cancel = {
        let id = id.clone();
        move || {
            let id = id.clone();
            // The live panel shows the scan stopping; nothing else to do.
            act_on(
                busy,
                action_error,
                api::body::<CancelScan>(ops::cancel_scan::Variables { id }),
                |_| {},
            );
        }
    };
    let delete = {
        let id = id.clone();
        move || {
            let id = id.clone();
            act_on(
                busy,
                action_error,
                api::body::<DeleteScan>(ops::delete_scan::Variables { id }),
                move |_| router.go(Route::Scans),
            );
        }
    };

    let id_label = id.clone();
    view! {
        {move || show(scan.get(), |found| match found {
            None => view! {
                <section class="card narrow">
                    <h1>"Scan not found"</h1>
                    <p>"There is no scan " {format!("#{id_label}")} ". It may have been deleted."</p>
                    <p><a href=Route::Scans.href()>"All scans"</a></p>
                </section>
            }.into_any(),
            Some(s) => {
                let status = Signal::derive(move || {
                    live.get().map(|l| l.status)
                        .or_else(|| scan.with(|x| match x { Some(Ok(Some(s))) => Some(s.status), _ => None }))
                        .unwrap_or(ScanStatus::Queued)
                });
                let running = move || !status.get().is_terminal();
                let (cancel, delete) = (cancel.clone(), delete.clone());
                let what = format!("scan {}", s.id);
                let reports = s.reports.clone();
                let chunked = s.chunk_count.map(|n| (s.id.clone(), n));
                view! {
                    <div class="page-head">
                        <h1>{s.title.clone()}</h1>
                        <StatusBadge status=status />
                        <div class="head-actions">
                            <span class="downloads" aria-label="Reports">
                                <a class="button secondary small" href=reports.json download>"JSON"</a>
                                <a class="button secondary small" href=reports.html target="_blank" rel="noopener">"HTML"</a>
                                <a class="button secondary small" href=reports.zip download id="download-zip">"ZIP"</a>
                            </span>
                            {can_operate.then(|| view! {
                                <Show
                                    when=running
                                    fallback={
                                        let what = what.clone();
                                        let delete = delete.clone();
                                        move || view! {
                                            <ConfirmButton label="Delete" what=what.clone() disabled=busy on_confirm=delete.clone() />
                                        }
                                    }
                                >
                                    <ConfirmButton label="Cancel" what=what.clone() disabled=busy on_confirm=cancel.clone() />
                                </Show>
                            })}
                        </div>
                    </div>
                    {move || action_error.get().map(|e| view! { <ErrorBox error=e /> })}
                    <Show when=running>
                        <LivePanel live=live log=log />
                        {chunked.clone().map(|(id, n)| view! { <Chunks id=id count=n /> })}
                    </Show>
                    {move || (!running()).then(|| (!log.with(Vec::is_empty)).then(|| view! { <section class="card"><LogList log=log /></section> }))}
                    <Overview scan=s.clone() />
                    {(s.status == ScanStatus::Completed).then(|| view! { <ScanChanges id=s.id.clone() /> })}
                    <Findings id=s.id.clone() />
                    <Results id=s.id.clone() />
                    <Commands scan=s />
                }.into_any()
            }
        })}
    }
}

#[component]
fn LivePanel(live: RwSignal<Option<Live>>, log: RwSignal<Vec<String>>) -> impl IntoView {
    let percent = Signal::derive(move || live.get().map(|l| l.percent).unwrap_or(0.0));
    view! {
        <section class="card live" aria-labelledby="live-title" aria-live="polite">
            <h2 id="live-title">"Progress"</h2>
            <div class="live-row">
                <ProgressBar percent=percent label="Scan progress".to_owned() />
            </div>
            <p class="live-phase">
                "Phase: " <strong data-phase="">{move || live.get().map(|l| l.phase.label()).unwrap_or("waiting")}</strong>
                " · hosts up " {move || live.get().map(|l| l.hosts_up).unwrap_or(0)}
                " · open ports " {move || live.get().map(|l| l.open_ports).unwrap_or(0)}
            </p>
            <LogList log=log />
        </section>
    }
}

#[component]
fn LogList(log: RwSignal<Vec<String>>) -> impl IntoView {
    view! {
        <details class="log" open>
            <summary>"Log"</summary>
            <ol class="log-lines">
                {move || log.get().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            </ol>
        </details>
    }
}

#[component]
fn Overview(scan: Scan) -> impl IntoView {
    let s = &scan.summary;
    let took = match (&scan.started_at, &scan.completed_at) {
        (Some(a), Some(b)) => format::duration(a, b),
        _ => None,
    };
    let stat = |label: &'static str, value: i64, class: &'static str| {
        view! {
            <div class=format!("stat {class}")>
                <span class="stat-value">{value}</span>
                <span class="stat-label">{label}</span>
            </div>
        }
    };
    view! {
        <section class="stats" aria-label="Summary">
            {stat("Hosts", s.hosts_total, "")}
            {stat("Hosts up", s.hosts_up, "")}
            {stat("Open ports", s.open_ports, "")}
            {stat("Services", s.services, "")}
            {stat("Certificates", s.certificates, "")}
            {stat("Unexpected ports", s.unexpected_ports, if s.unexpected_ports > 0 { "bad" } else { "good" })}
            {stat("Missing ports", s.missing_ports, if s.missing_ports > 0 { "bad" } else { "good" })}
        </section>
        <section class="card">
            <dl class="facts">
                <dt>"Config"</dt>
                <dd>{match scan.config {
                    Some(c) => view! { <a href=Route::Config(c.id).href()>{c.title}</a> }.into_any(),
                    None => view! { <span class="muted">"ad-hoc / import"</span> }.into_any(),
                }}</dd>
                <dt>"Started by"</dt><dd>{match scan.schedule {
                    Some(s) => view! { "schedule " <a href=Route::Schedules.href()>{s.name}</a> }.into_any(),
                    None => view! { {scan.triggered_by} }.into_any(),
                }}</dd>
                {scan.chunk_count.map(|n| view! {
                    <dt>"Chunks"</dt><dd>{format!("{n} (run in parallel, merged into this scan)")}</dd>
                })}
                {scan.worker.map(|w| view! {
                    <dt>"Worker"</dt>
                    <dd>{w}{(scan.attempt > 1).then(|| view! {
                        <span class="muted">{format!(" (run {}: taken over from a lost worker)", scan.attempt)}</span>
                    })}</dd>
                })}
                <dt>"Created"</dt><dd>{format::timestamp(&scan.created_at)}</dd>
                <dt>"Started"</dt><dd>{format::maybe_timestamp(scan.started_at.as_deref())}</dd>
                <dt>"Finished"</dt><dd>{format::maybe_timestamp(scan.completed_at.as_deref())}</dd>
                <dt>"Took"</dt><dd>{took.unwrap_or_else(|| "—".into())}</dd>
                {scan.error_message.map(|m| view! { <dt>"Error"</dt><dd class="bad-text">{m}</dd> })}
            </dl>
        </section>
    }
}

/// Findings per page of the scan page.
const FINDINGS_PAGE: i64 = 50;

#[component]
fn Findings(id: String) -> impl IntoView {
    let findings = RwSignal::new(None::<Result<Vec<FindingRow>, ApiError>>);
    let cursors = Cursors::default();
    let load = move || {
        let vars = ops::scan_findings::Variables {
            id: id.clone(),
            first: Some(FINDINGS_PAGE),
            after: cursors.after(),
        };
        cursors.fill(findings, async move {
            let data = api::call::<ScanFindings>(vars).await?;
            Ok(data.scan.map(|scan| crate::loaded!(scan.findings)))
        });
    };
    load();
    view! {
        <section class="card" aria-labelledby="findings-title">
            <h2 id="findings-title">"Findings"</h2>
            {move || show(findings.get(), |list| {
                if list.is_empty() {
                    view! { <Empty>"Nothing needs attention."</Empty> }.into_any()
                } else {
                    view! {
                        <div class="table-wrap">
                        <table class="table">
                            <thead><tr>
                                <th scope="col">"Severity"</th><th scope="col">"Finding"</th>
                                <th scope="col">"Where"</th><th scope="col">"Detail"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|f| {
                                    let place = match (f.port, f.protocol) {
                                        (Some(p), Some(proto)) => format!("{} {p}/{proto}", f.address),
                                        _ => f.address,
                                    };
                                    view! {
                                        <tr>
                                            <td><span class=format!("badge sev-{}", f.severity)>{f.severity.label()}</span></td>
                                            <td><code>{f.code.label()}</code></td>
                                            <td>{place}<span class="muted">{format!(" · {}", f.site)}</span></td>
                                            <td>{f.message}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                        </div>
                    }.into_any()
                }
            })}
            <Pager cursors=cursors size=FINDINGS_PAGE noun="findings" load=load />
        </section>
    }
}

fn expectation(p: &Port) -> AnyView {
    if p.unexpected {
        view! { <span class="badge bad">"unexpected"</span> }.into_any()
    } else if p.missing {
        view! { <span class="badge bad">"missing"</span> }.into_any()
    } else if p.expected {
        view! { <span class="badge good">"expected"</span> }.into_any()
    } else {
        view! { <span class="muted">"—"</span> }.into_any()
    }
}

fn service_cell(svc: Option<Service>) -> AnyView {
    let Some(svc) = svc else {
        return view! { <span class="muted">"—"</span> }.into_any();
    };
    let name = [svc.name.clone(), svc.product.clone(), svc.version.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let http = svc.http.map(|h| {
        let line = [
            h.status.map(|s| s.to_string()),
            h.title,
            h.server.map(|s| format!("({s})")),
            h.location.map(|l| format!("→ {l}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        view! { <div class="svc-http">"HTTP " {line}</div> }
    });
    let tls = (!svc.tls_versions.is_empty()).then(|| {
        let versions = svc
            .tls_versions
            .iter()
            .map(|t| match &t.grade {
                Some(g) => format!("{} ({g})", t.version),
                None => t.version.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        view! { <div class="svc-tls">"TLS " {versions}</div> }
    });
    let cert = svc.certificate.map(|c| {
        let expires = format::maybe_timestamp(c.not_after.as_deref());
        let key = match (c.key_type, c.key_bits) {
            (Some(t), Some(b)) => format!("{t} {b}"),
            (Some(t), None) => t,
            _ => String::new(),
        };
        view! {
            <details class="svc-cert">
                <summary>"Certificate " {c.subject.clone()} {c.self_signed.then_some(" · self-signed")}</summary>
                <dl class="facts small">
                    <dt>"Issuer"</dt><dd>{c.issuer}</dd>
                    <dt>"Valid until"</dt><dd>{expires}</dd>
                    <dt>"Names"</dt><dd>{c.sans.join(", ")}</dd>
                    <dt>"Key"</dt><dd>{key}</dd>
                    <dt>"Signature"</dt><dd>{c.signature_algorithm.unwrap_or_default()}</dd>
                    <dt>"SHA-256"</dt><dd class="mono">{c.sha256_fingerprint.unwrap_or_default()}</dd>
                </dl>
            </details>
        }
    });
    let shot = svc.screenshot_url.map(|url| {
        let href = url.clone();
        view! {
            <a class="shot" href=href target="_blank" rel="noopener">
                <img src=url alt=format!("Screenshot of {name}") loading="lazy" width="160" />
            </a>
        }
    });
    view! {
        <div class="svc">
            <span>{name.clone()}</span>
            {svc.extra_info.map(|x| view! { <span class="muted">{format!(" ({x})")}</span> })}
            {http}
            {tls}
            {cert}
            {shot}
        </div>
    }
    .into_any()
}

/// Addresses per page of the results (the API pages them: a 10,000-host scan is not loaded
/// whole).
const HOSTS_PAGE: i64 = 50;

/// Consecutive items with the same key, in order (a page of hosts, by site).
pub fn runs<T>(items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<(String, Vec<T>)> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some((k, run)) if k.as_str() == key(&item) => run.push(item),
            _ => out.push((key(&item).to_owned(), vec![item])),
        }
    }
    out
}

#[component]
fn Results(id: String) -> impl IntoView {
    let hosts = RwSignal::new(None::<Result<Vec<Host>, ApiError>>);
    let cursors = Cursors::default();
    let load = move || {
        let vars = ops::scan_hosts::Variables {
            id: id.clone(),
            first: Some(HOSTS_PAGE),
            after: cursors.after(),
        };
        cursors.fill(hosts, async move {
            let data = api::call::<ScanHosts>(vars).await?;
            Ok(data.scan.map(|scan| crate::loaded!(scan.hosts)))
        });
    };
    load();
    view! {
        <section class="card" aria-labelledby="results-title">
            <h2 id="results-title">"Results"</h2>
            {move || show(hosts.get(), |list| {
                if list.is_empty() {
                    view! { <Empty>"No results yet."</Empty> }.into_any()
                } else {
                    runs(list, |h| h.site.as_str()).into_iter().map(|(site, ips)| view! {
                        <div class="site">
                            <h3>{site}</h3>
                            {ips.into_iter().map(host_view).collect_view()}
                        </div>
                    }).collect_view().into_any()
                }
            })}
            <Pager cursors=cursors size=HOSTS_PAGE noun="hosts" load=load />
        </section>
    }
}

fn host_view(ip: Host) -> impl IntoView {
    let ping = match (ip.ping_expected, ip.ping_actual) {
        (Some(e), Some(a)) if e != a => view! {
            <span class="badge bad">{if a { "answers ping (unexpected)" } else { "no ping (expected)" }}</span>
        }.into_any(),
        _ => view! { <span class=format!("badge host-{}", ip.status)>{ip.status.label()}</span> }.into_any(),
    };
    let address = ip.address.clone();
    view! {
        <div class="host" data-address=address.clone()>
            <h4>
                <span class="mono">{address.clone()}</span>
                {ip.hostname.map(|h| view! { <span class="muted">{format!(" ({h})")}</span> })}
                " " {ping}
            </h4>
            {if ip.ports.is_empty() {
                view! { <p class="muted">"No open ports."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                    <table class="table ports">
                        <thead><tr>
                            <th scope="col">"Port"</th><th scope="col">"State"</th>
                            <th scope="col">"Expectation"</th><th scope="col">"Service"</th>
                        </tr></thead>
                        <tbody>
                            {ip.ports.into_iter().map(|p| {
                                let class = if p.unexpected || p.missing { "row-bad" } else { "" };
                                let label = format!("{}/{}", p.port, p.protocol);
                                let exp = expectation(&p);
                                let data_port = label.clone();
                                view! {
                                    <tr class=class data-port=data_port>
                                        <td class="mono">{label}</td>
                                        <td>{p.state.label()}</td>
                                        <td>{exp}</td>
                                        <td>{service_cell(p.service)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </div>
    }
}

/// How often the chunks of a running scan are read again.
const CHUNKS_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// The chunks of a scan while they run: who runs which, how far.
#[component]
fn Chunks(id: String, count: i64) -> impl IntoView {
    let chunks = Remote::new(move || {
        let id = id.clone();
        async move {
            api::call::<ScanChunks>(ops::scan_chunks::Variables { id })
                .await
                .map(|d| d.scan.map(|s| s.chunks).unwrap_or_default())
        }
    });
    if let Ok(tick) = set_interval_with_handle(move || chunks.refetch(), CHUNKS_REFRESH) {
        on_cleanup(move || tick.clear());
    }
    view! {
        <section class="card" aria-labelledby="chunks-title">
            <h2 id="chunks-title">{format!("Chunks ({count})")}</h2>
            <p class="hint">"Each chunk is a run of its own on any worker or agent; their results are merged into this scan when the last one ends."</p>
            {move || show(chunks.get(), |list| view! {
                <div class="table-wrap">
                <table class="table">
                    <thead><tr>
                        <th scope="col">"#"</th><th scope="col">"Status"</th><th scope="col">"Phase"</th>
                        <th scope="col">"Progress"</th><th scope="col">"Worker"</th>
                        <th scope="col">"Hosts up"</th><th scope="col">"Open ports"</th><th scope="col">"Targets"</th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|c| view! {
                            <tr data-chunk=c.number>
                                <td>{c.number}</td>
                                <td><StatusBadge status=Signal::stored(c.status) /></td>
                                <td>{c.phase.label()}</td>
                                <td>{crate::format::percent(c.percent)}</td>
                                <td class="mono">{c.worker.unwrap_or_default()}{(c.attempt > 1).then(|| format!(" (run {})", c.attempt))}</td>
                                <td>{c.hosts_up}</td>
                                <td>{c.open_ports}</td>
                                <td class="mono">{c.targets.replace('\n', ", ")}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            })}
        </section>
    }
}

#[component]
fn Commands(scan: Scan) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="commands-title">
            <h2 id="commands-title">"Command lines"</h2>
            {if scan.command_lines.is_empty() {
                view! { <Empty>"No scanner process ran (queued, or imported)."</Empty> }.into_any()
            } else {
                view! {
                    <ol class="commands">
                        {scan.command_lines.iter().map(|argv| view! { <li><pre>{command_line(argv)}</pre></li> }).collect_view()}
                    </ol>
                }.into_any()
            }}
            {(!scan.nmap_xml.is_empty()).then(|| view! {
                <p class="raw-xml">
                    "Raw nmap XML: "
                    {scan.nmap_xml.iter().map(|f| view! {
                        <a class="button secondary small" href=f.url.clone() download>{match f.chunk {
                            Some(c) => format!("{} (chunk {c})", f.phase),
                            None => f.phase.clone(),
                        }}</a>
                        " "
                    }).collect_view()}
                </p>
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_consecutive_hosts_of_a_site() {
        let hosts = vec![("a", 1), ("a", 2), ("b", 3), ("a", 4)];
        let grouped = runs(hosts, |h| h.0);
        let keys: Vec<_> = grouped.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
        assert_eq!(keys, [("a", 2), ("b", 1), ("a", 1)]);
        assert!(runs(Vec::<(&str, i32)>::new(), |h| h.0).is_empty());
    }

    #[test]
    fn command_line_quotes_words_with_spaces_and_quotes() {
        let argv: Vec<String> = [
            "nmap",
            "-sT",
            "-iL",
            "/data/work/1/targets",
            "--script",
            "a b",
            "it's",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            command_line(&argv),
            "nmap -sT -iL /data/work/1/targets --script 'a b' 'it'\\''s'"
        );
    }
}
