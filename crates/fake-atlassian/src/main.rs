//! `fake-atlassian`: runs the fake Atlassian Cloud until Ctrl-C, for demos and non-Rust tools.
//! Faults and latency can be changed at run time through the `/__control/` API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use fake_atlassian::{BurstLimit, Credentials, Directory, FakeAtlassian, PointsQuota, QuotaScope};

/// Serve a fake Atlassian Cloud (admin API, Confluence user API, privacy email API).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// A users.json directory file: {"users": [{"accountId", "email", ...}]}.
    #[arg(long, group = "users")]
    directory: Option<PathBuf>,
    /// Serve the built-in demo directory (the default).
    #[arg(long, group = "users")]
    demo: bool,
    /// Serve N generated users (user{i}@example.com; i%3: 0 managed+hidden,
    /// 1 unmanaged+visible, 2 managed+visible).
    #[arg(long, group = "users", value_name = "N")]
    generated: Option<usize>,
    /// Base latency added to every API call, in milliseconds.
    #[arg(long, value_name = "N")]
    latency_ms: Option<u64>,
    /// Cap on the admin search page size (forces pagination).
    #[arg(long, value_name = "N")]
    admin_page_cap: Option<usize>,
    /// Cap on the results of one users-bulk answer (pages it with `_links.next`).
    #[arg(long, value_name = "N")]
    users_bulk_page_cap: Option<usize>,
    /// A burst limit: at most N calls per --burst-window-ms on each endpoint, then 429 with
    /// Retry-After.
    #[arg(long, value_name = "N")]
    burst_calls: Option<u32>,
    /// The burst limit's window, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 10_000,
        requires = "burst_calls"
    )]
    burst_window_ms: u64,
    /// An hourly points quota for app traffic (OAuth bearer / app token), global scope.
    #[arg(long, value_name = "POINTS")]
    points_quota: Option<u64>,
    /// Organization id in admin API paths.
    #[arg(long)]
    org_id: Option<String>,
    /// Org admin API key (Bearer).
    #[arg(long)]
    admin_api_key: Option<String>,
    /// Site API token email (Basic).
    #[arg(long)]
    site_email: Option<String>,
    /// Site classic API token (Basic).
    #[arg(long)]
    site_api_token: Option<String>,
    /// Scoped API token (Basic with the site email) for /ex/confluence/{cloudId}.
    #[arg(long)]
    scoped_api_token: Option<String>,
    /// OAuth bearer token for /ex/confluence/{cloudId}.
    #[arg(long)]
    bearer_token: Option<String>,
    /// Cloud id in gateway paths.
    #[arg(long)]
    cloud_id: Option<String>,
    /// App token, the only credential allowed on the privacy email API.
    #[arg(long)]
    app_token: Option<String>,
}

impl Args {
    fn directory(&self) -> anyhow::Result<Directory> {
        Ok(match (&self.directory, self.generated) {
            (Some(path), _) => Directory::load(path)?,
            (None, Some(n)) => Directory::generated(n),
            (None, None) => Directory::demo(),
        })
    }

    fn credentials(&self) -> Credentials {
        let mut c = Credentials::default();
        let overrides = [
            (&self.org_id, &mut c.org_id),
            (&self.admin_api_key, &mut c.admin_api_key),
            (&self.site_email, &mut c.site_email),
            (&self.site_api_token, &mut c.site_api_token),
            (&self.scoped_api_token, &mut c.scoped_api_token),
            (&self.bearer_token, &mut c.bearer_token),
            (&self.cloud_id, &mut c.cloud_id),
            (&self.app_token, &mut c.app_token),
        ];
        for (given, field) in overrides {
            if let Some(value) = given {
                *field = value.clone();
            }
        }
        c
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let directory = args.directory()?;
    let users = directory.users.len();
    let fake = FakeAtlassian::start(args.listen, directory, args.credentials()).await?;
    if let Some(ms) = args.latency_ms {
        fake.set_latency(Duration::from_millis(ms));
    }
    fake.set_admin_page_cap(args.admin_page_cap);
    fake.set_users_bulk_page_cap(args.users_bulk_page_cap);
    fake.set_burst_limit(args.burst_calls.map(|calls| BurstLimit {
        calls,
        window: Duration::from_millis(args.burst_window_ms),
    }));
    fake.set_points_quota(args.points_quota.map(|points| PointsQuota {
        points,
        scope: QuotaScope::Global,
    }));

    let url = fake.url();
    let c = fake.credentials();
    println!("fake-atlassian listening on {url} ({users} users)");
    println!(
        "  admin API:      {url}/admin/v2/orgs/{}/directories/-/users/search",
        c.org_id
    );
    println!("  site URL:       {url}  (Basic site email + API token)");
    println!(
        "  gateway URL:    {url}/ex/confluence/{}  (Bearer token, or Basic site email + scoped token)",
        c.cloud_id
    );
    println!("  control API:    {url}/__control/");
    println!("credentials (fake test values):");
    println!("  org id:         {}", c.org_id);
    println!("  admin API key:  {}", c.admin_api_key);
    println!("  site email:     {}", c.site_email);
    println!("  site API token: {}", c.site_api_token);
    println!("  scoped token:   {}", c.scoped_api_token);
    println!("  bearer token:   {}", c.bearer_token);
    println!("  cloud id:       {}", c.cloud_id);
    println!("  app token:      {}", c.app_token);

    tokio::signal::ctrl_c().await?;
    println!("stopping");
    fake.shutdown().await;
    Ok(())
}
