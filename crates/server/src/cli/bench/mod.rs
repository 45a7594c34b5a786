//! `orderguard bench`: starts the real server and drives complete flows over HTTP
//! (create → code from the outbox → check) over many customers, each with a number of their own
//! (`setup`), and the same load against `/healthz` as the ceiling.
//! `orderguard bench-smpp` (in `smpp`) measures the SMPP client alone against an SMSC, and
//! `orderguard bench-dashboards` (in `dashboards`) the dashboard pages over millions of events.

pub mod dashboards;
mod setup;
pub mod smpp;
pub mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::store::scratch::ScratchSchema;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Seconds of load per concurrency level.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrency levels (parallel flows).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,
    /// Also run against this PostgreSQL database, in a schema created for the run and dropped after it.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Customers of the brand, each with a number of their own; the flows take them in turn, so
    /// a customer comes again only after all the others. The default is enough for a run at
    /// several thousand flows/s never to use a number twice; 3 is the workload of earlier versions.
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Ask the SIM swap and device swap APIs before each code, as the demo does (at the instance's
    /// own development gateway); off, the flows are those of earlier versions.
    #[arg(long)]
    pub network_checks: bool,
    /// Deliver every event of the brand to a local receiver (one endpoint subscribed to every
    /// type), and report the deliveries still waiting at the end of each level; off, no endpoint.
    #[arg(long)]
    pub webhooks: bool,
    /// Offer this many flows per second in all, spread over the parallel flows (an open load, to
    /// compare settings at a load both keep up with); 0: each flow starts as the last one ends.
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Instances of the server sharing the PostgreSQL database, one run per entry (`1,2`: one
    /// against two, each in a schema of its own); the parallel flows go to them in turn. SQLite
    /// always runs one (one instance per database file).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub instances: Vec<usize>,
    /// PostgreSQL connections per instance (`database_pool_size`).
    #[arg(long, default_value_t = crate::store::DEFAULT_POOL_SIZE)]
    pub pool_size: usize,
}

/// Requests in one complete flow: create, read the outbox, check.
const REQUESTS_PER_FLOW: f64 = 3.0;

struct Sample {
    create: Vec<f64>,
    outbox: Vec<f64>,
    check: Vec<f64>,
    flows: usize,
    errors: usize,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if !(1..=setup::MAX_CUSTOMERS).contains(&args.customers) {
        bail!("--customers must be between 1 and {}", setup::MAX_CUSTOMERS);
    }
    println!(
        "orderguard bench: {} s per level, {} customer(s), {} core(s)",
        args.seconds,
        args.customers,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<9} {:>5} {:>10} {:>10} {:>7} {:>22} {:>22} {:>22} {:>7} {:>18} {:>17} {:>13} {:>12} {:>15}",
        "database",
        "conc",
        "flows/s",
        "ceiling/s",
        "ratio",
        "create p50/p99 ms",
        "outbox p50/p99 ms",
        "check p50/p99 ms",
        "errors",
        "cpu µs/flow",
        "cpu µs/ceiling",
        "db trips/flow",
        "risk µs/create",
        "webhook backlog"
    );
    if args.instances.iter().any(|n| !(1..=8).contains(n)) {
        bail!("--instances: between 1 and 8 each");
    }
    let mut runs = vec![("sqlite".to_owned(), bench_sqlite(&args).await?)];
    if let Some(url) = &args.postgres {
        for &instances in &args.instances {
            // A schema of its own: rows of earlier runs (the same order ids) would change the figures.
            let schema = ScratchSchema::create(url).await.context("creating a schema for the run")?;
            let name = if instances == 1 { "postgres".to_owned() } else { format!("pg×{instances}") };
            let flows = bench_database(&args, &name, instances, &schema.url(), &temp_dir()).await;
            schema.drop().await.context("dropping the run's schema")?;
            runs.push((name, flows?));
        }
    }
    println!(
        "ceiling/s = requests/s of GET /healthz at the same concurrency, divided by {REQUESTS_PER_FLOW} requests per flow"
    );
    println!(
        "cpu µs = CPU time per flow of this process (server and client) and, for PostgreSQL, of its processes on \
         this machine (db = their part), and of this process per {REQUESTS_PER_FLOW} /healthz requests; wr = the \
         SQLite writer thread's part; db trips = statements, preparations, BEGINs and COMMITs sent to PostgreSQL"
    );
    for (name, flows) in runs {
        let most = flows.div_ceil(args.customers);
        println!(
            "{name}: {flows} flows started over {} customers: each number used at most {most} time(s)",
            args.customers
        );
    }
    Ok(())
}

/// A new folder for one database's run: its configuration, key, logo and (SQLite) database.
fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("orderguard-bench-{}", crate::ids::random_token(6)))
}

async fn bench_sqlite(args: &BenchArgs) -> anyhow::Result<usize> {
    let dir = temp_dir();
    bench_database(args, "sqlite", 1, &format!("sqlite://{}/bench.db", dir.display()), &dir).await
}

/// Every concurrency level against a server on `database_url`, a row each; the flows started.
async fn bench_database(
    args: &BenchArgs,
    name: &str,
    instances: usize,
    database_url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<usize> {
    let result = levels(args, name, instances, database_url, dir).await;
    let _ = std::fs::remove_dir_all(dir);
    result
}

async fn levels(
    args: &BenchArgs,
    name: &str,
    instances: usize,
    database_url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<usize> {
    let on_postgres = name != "sqlite";
    let now = crate::clock::Clock::default().now();
    // The receiver first: the settings pick a free port for the server, which it must not take.
    let receiver = match args.webhooks {
        true => Some(webhooks::LocalReceiver::start().await?),
        false => None,
    };
    let mut settings = setup::settings(database_url, dir, args.customers, args.network_checks, now)?;
    settings.database_pool_size = args.pool_size;
    webhooks::point_webhooks(&mut settings, receiver.as_ref().map(|r| r.url.as_str()));
    let store = crate::prepare_store(&settings, now).await?;
    let key = crate::service::api_keys::create(&store, setup::BRAND, "bench", now).await?;
    drop(store);
    let mut servers = Vec::new();
    for n in 0..instances {
        let mut settings = settings.clone();
        if n > 0 {
            // The others on ports of their own (the first has the ports the settings picked).
            settings.listen = "127.0.0.1:0".into();
            settings.metrics.listen = "127.0.0.1:0".into();
        }
        servers.push(crate::start(settings).await.context("starting the server")?);
    }
    let bases: Vec<String> = servers.iter().map(|s| format!("http://{}", s.addr)).collect();
    let (Some(server), Some(base)) = (servers.first(), bases.first()) else { bail!("no instance started") };
    let metrics = format!("http://{}/metrics", server.metrics_addr);
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    // One turn through the customers over all levels: a level starts where the last one stopped.
    let customers = Customers { next: Arc::new(AtomicUsize::new(0)), count: args.customers };
    for &concurrency in &args.concurrency {
        if on_postgres {
            crate::store::scratch::analyze(database_url).await.context("gathering the planner's statistics")?;
        }
        let before_ceiling = CpuTime::now();
        let ceiling = ceiling(&client, base, concurrency, Duration::from_secs(args.seconds)).await;
        let before_flows = CpuTime::now();
        let risk_before = risk_step(&client, &metrics).await;
        let pace = (args.rate > 0).then(|| Duration::from_secs_f64(concurrency as f64 / f64::from(args.rate)));
        let sample =
            flows(&client, &bases, &key, &customers, concurrency, pace, Duration::from_secs(args.seconds)).await;
        let after_flows = CpuTime::now();
        let risk_after = risk_step(&client, &metrics).await;
        let backlog = match &receiver {
            Some(_) => webhooks::backlog(server).await?.to_string(),
            None => "–".to_owned(),
        };
        let sample = match sample {
            Ok(sample) => sample,
            Err(e) => {
                stop_all(servers).await;
                return Err(e);
            }
        };
        let seconds = args.seconds as f64;
        let flows_per_s = sample.flows as f64 / seconds;
        let ceiling_flows = ceiling / REQUESTS_PER_FLOW;
        let fmt = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            format!("{:.2}/{:.2}", percentile(v, 0.5), percentile(v, 0.99))
        };
        let (mut c, mut o, mut k) = (sample.create, sample.outbox, sample.check);
        // CPU per flow (all threads, and the SQLite writer's share) against CPU per ceiling flow
        // (three /healthz requests): their quotient bounds the ratio when the cores are busy.
        let per_flow = CpuTime::per(before_flows, after_flows, sample.flows as f64);
        let per_ceiling_flow = CpuTime::per(before_ceiling, before_flows, ceiling * seconds / REQUESTS_PER_FLOW);
        println!(
            "{:<9} {:>5} {:>10.0} {:>10.0} {:>6.0}% {:>22} {:>22} {:>22} {:>7} {:>18} {:>17} {:>13} {:>12} {:>15}",
            name,
            concurrency,
            flows_per_s,
            ceiling_flows,
            100.0 * flows_per_s / ceiling_flows.max(1.0),
            fmt(&mut c),
            fmt(&mut o),
            fmt(&mut k),
            sample.errors,
            per_flow.as_ref().map_or("n/a".into(), |p| match name {
                "sqlite" => format!("{:.0} (wr {:.0})", p.process, p.writer),
                _ => format!("{:.0} (db {:.0})", p.process + p.database, p.database),
            }),
            per_ceiling_flow.map_or("n/a".into(), |p| format!("{:.0}", p.process)),
            match &per_flow {
                Some(p) if on_postgres => format!("{:.1}", p.round_trips),
                _ => "–".into(),
            },
            match (risk_before, risk_after) {
                (Some((sum0, n0)), Some((sum1, n1))) if n1 > n0 => format!("{:.0}", (sum1 - sum0) / (n1 - n0) * 1e6),
                _ => "n/a".into(),
            },
            backlog,
        );
        // The next level starts with no deliveries left from this one.
        if receiver.is_some() {
            while webhooks::backlog(server).await? > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    stop_all(servers).await;
    Ok(customers.next.load(Ordering::Relaxed))
}

async fn stop_all(servers: Vec<crate::Server>) {
    for server in servers {
        server.stop().await;
    }
}

/// The risk step's total seconds and count so far, from the server's `/metrics` at `url`.
async fn risk_step(client: &reqwest::Client, url: &str) -> Option<(f64, f64)> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    let total = |suffix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("orderguard_risk_duration_seconds_{suffix}")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Some((total("sum"), total("count")))
}

/// The brand's customers, handed to the flows in turn.
#[derive(Clone)]
struct Customers {
    next: Arc<AtomicUsize>,
    count: usize,
}

impl Customers {
    fn next(&self) -> String {
        setup::customer_id(self.next.fetch_add(1, Ordering::Relaxed) % self.count.max(1))
    }
}

/// CPU time used so far by this process (every thread, ended ones included), by the SQLite
/// writer thread and by PostgreSQL's processes on this machine, in clock ticks, read from /proc;
/// `None` where there is no /proc. With them, the round trips to PostgreSQL so far.
#[derive(Clone, Copy)]
struct CpuTime {
    process: u64,
    writer: u64,
    database: u64,
    round_trips: u64,
}

/// Linux reports times in /proc in USER_HZ ticks: 100 per second on x86-64 and arm64, where this runs.
const TICKS_PER_SECOND: f64 = 100.0;

impl CpuTime {
    fn now() -> Option<Self> {
        let process = ticks_in_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
        let mut writer = 0;
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim() == crate::store::SQLITE_WRITER_THREAD {
                // A thread that ended since the listing counts no more.
                writer +=
                    std::fs::read_to_string(task.path().join("stat")).ok().and_then(|s| ticks_in_stat(&s)).unwrap_or(0);
            }
        }
        Some(Self { process, writer, database: postgres_ticks(), round_trips: crate::store::postgres_round_trips() })
    }

    /// Per unit of work between two readings: microseconds of CPU of this process, of its
    /// writer thread and of PostgreSQL, and the round trips to PostgreSQL.
    fn per(before: Option<Self>, after: Option<Self>, units: f64) -> Option<PerUnit> {
        let (before, after) = (before?, after?);
        let per = |n: u64| n as f64 / units.max(1.0);
        let micros = |ticks: u64| per(ticks) / TICKS_PER_SECOND * 1e6;
        // A thread or process that ended in between takes its ticks away: never below zero.
        Some(PerUnit {
            process: micros(after.process.saturating_sub(before.process)),
            writer: micros(after.writer.saturating_sub(before.writer)),
            database: micros(after.database.saturating_sub(before.database)),
            round_trips: per(after.round_trips.saturating_sub(before.round_trips)),
        })
    }
}

/// What one flow (or ceiling flow) took: see [`CpuTime::per`].
struct PerUnit {
    process: f64,
    writer: f64,
    database: f64,
    round_trips: f64,
}

/// Ticks used so far by the processes named `postgres` (the server and its backends), with those
/// of their children that ended.
fn postgres_ticks() -> u64 {
    let Ok(processes) = std::fs::read_dir("/proc") else { return 0 };
    processes
        .flatten()
        .filter(|p| p.file_name().to_str().is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|stat| stat.split_once('(').is_some_and(|(_, rest)| rest.starts_with("postgres)")))
        .filter_map(|stat| Some(ticks_in_stat(&stat)? + children_ticks_in_stat(&stat)?))
        .sum()
}

/// cutime + cstime of a `stat` line: the 16th and 17th fields, the ticks of children that ended
/// (PostgreSQL's backends and autovacuum workers that came and went, in the postmaster's).
fn children_ticks_in_stat(stat: &str) -> Option<u64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(13);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// utime + stime of a `stat` line: the 14th and 15th fields, counted after the command name,
/// which is in parentheses and may itself contain spaces.
fn ticks_in_stat(stat: &str) -> Option<u64> {
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// Requests per second of the server's cheapest endpoint at this concurrency.
async fn ceiling(client: &reqwest::Client, base: &str, concurrency: usize, duration: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let url = format!("{base}/healthz");
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut done = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap_or(0);
    }
    total as f64 / duration.as_secs_f64()
}

async fn flows(
    client: &reqwest::Client,
    bases: &[String],
    key: &str,
    customers: &Customers,
    concurrency: usize,
    pace: Option<Duration>,
    duration: Duration,
) -> anyhow::Result<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            // The flows go to the instances in turn, as a load balancer spreads its clients.
            let base = bases.get(worker % bases.len().max(1)).cloned().unwrap_or_default();
            let (client, key, stop) = (client.clone(), key.to_owned(), stop.clone());
            let customers = customers.clone();
            tokio::spawn(async move {
                let mut sample =
                    Sample { create: Vec::new(), outbox: Vec::new(), check: Vec::new(), flows: 0, errors: 0 };
                let mut n = 0u64;
                // Paced: one flow per tick, late ones not made up for (an overloaded server slows it).
                let mut ticks = pace.map(|every| {
                    let mut ticks = tokio::time::interval(every);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    ticks
                });
                while !stop.load(Ordering::Relaxed) {
                    if let Some(ticks) = ticks.as_mut() {
                        ticks.tick().await;
                    }
                    n += 1;
                    match one_flow(
                        &client,
                        &base,
                        &key,
                        &customers.next(),
                        &format!("B{concurrency}-{worker}-{n}"),
                        &mut sample,
                    )
                    .await
                    {
                        Ok(()) => sample.flows += 1,
                        Err(e) => {
                            if sample.errors == 0 {
                                eprintln!("first error of worker {worker}: {e:#}");
                            }
                            sample.errors += 1;
                        }
                    }
                }
                sample
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Sample { create: Vec::new(), outbox: Vec::new(), check: Vec::new(), flows: 0, errors: 0 };
    for w in workers {
        let s = w.await?;
        all.create.extend(s.create);
        all.outbox.extend(s.outbox);
        all.check.extend(s.check);
        all.flows += s.flows;
        all.errors += s.errors;
    }
    Ok(all)
}

async fn one_flow(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    customer: &str,
    order: &str,
    sample: &mut Sample,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let created: Value = client
        .post(format!("{base}/v1/verifications"))
        .bearer_auth(key)
        .header("Idempotency-Key", order)
        .json(&json!({
            "order": { "id": order, "amount": "849.00", "currency": "EUR", "shipping_country": "DE",
                "items": [{ "sku": "PHONE", "name": "Phone", "quantity": 1, "unit_price": "849.00", "hardware": true }] },
            "customer": { "id": customer },
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    sample.create.push(started.elapsed().as_secs_f64() * 1000.0);
    let id = created.get("id").and_then(Value::as_str).context("no id")?.to_owned();

    let started = Instant::now();
    // One long-polling request: it answers as soon as the SMS is kept.
    let messages: Value = client
        .get(format!("{base}/dev/outbox.json?verification_id={id}&limit=1&wait_ms=5000"))
        .send()
        .await?
        .json()
        .await?;
    let code = messages
        .get(0)
        .and_then(|m| m.get("text"))
        .and_then(Value::as_str)
        .and_then(|text| text.rsplit('#').next())
        .map(|code| code.trim().to_owned())
        .context("no SMS within 5 s")?;
    sample.outbox.push(started.elapsed().as_secs_f64() * 1000.0);

    let started = Instant::now();
    let checked: Value = client
        .post(format!("{base}/v1/verifications/{id}/check"))
        .bearer_auth(key)
        .json(&json!({ "code": code }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    sample.check.push(started.elapsed().as_secs_f64() * 1000.0);
    if checked.get("status").and_then(Value::as_str) != Some("approved") {
        bail!("not approved: {checked}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        // cutime cstime …
        let stat = "4242 (tokio rt) x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 89 10 20 0 8 0";
        assert_eq!(super::ticks_in_stat(stat), Some(1234 + 567));
        assert_eq!(super::children_ticks_in_stat(stat), Some(89 + 10));
        assert_eq!(super::ticks_in_stat("4242 (cut short"), None);
        let on_linux = std::path::Path::new("/proc/self/stat").exists();
        assert_eq!(super::CpuTime::now().is_some(), on_linux);
    }
}
